package main

import (
	"math/bits"
	"sync/atomic"
)

// hist is a log-linear latency histogram in microseconds: 16 sub-buckets
// per power of two (under 7% relative error), atomic so that the reporter
// can read it while the client goroutine records.
type hist struct {
	b [64 * 16]atomic.Uint64
}

func bucket(v int64) int {
	if v < 16 {
		return int(max(v, 0))
	}
	e := bits.Len64(uint64(v)) - 5 // v >> e is in [16, 32)
	return (e+1)*16 + int(uint64(v)>>e) - 16
}

// bucketValue is the upper bound of bucket i, in microseconds.
func bucketValue(i int) int64 {
	if i < 16 {
		return int64(i)
	}
	e := i/16 - 1
	return (int64(i%16+16)+1)<<e - 1
}

func (h *hist) record(v int64) { h.b[bucket(v)].Add(1) }

// counts is a plain copy of histogram counts, for sums and differences.
type counts [64 * 16]uint64

func (c *counts) add(h *hist) {
	for i := range h.b {
		c[i] += h.b[i].Load()
	}
}

func (c *counts) sub(o *counts) counts {
	var d counts
	for i := range c {
		d[i] = c[i] - o[i]
	}
	return d
}

func (c *counts) total() uint64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}

// quantile returns the upper bound of the bucket holding quantile q.
func (c *counts) quantile(q float64) int64 {
	n := c.total()
	if n == 0 {
		return 0
	}
	rank := uint64(q * float64(n))
	if rank >= n {
		rank = n - 1
	}
	var seen uint64
	for i, v := range c {
		seen += v
		if seen > rank {
			return bucketValue(i)
		}
	}
	return 0
}

func (c *counts) max() int64 {
	for i := len(c) - 1; i >= 0; i-- {
		if c[i] > 0 {
			return bucketValue(i)
		}
	}
	return 0
}
