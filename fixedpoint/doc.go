// Package fixedpoint converts exact decimal strings to and from int64 mantissas
// at a fixed scale, the representation marketfeed uses for every price and
// size on its hot paths.
//
// A value v at scale s means v × 10^-s: "64123.10" at scale 2 is 6412310.
// Parsing never rounds: a string with more significant fractional digits
// than the scale is rejected with ErrPrecision, so a value that enters the
// server can always be written back byte for byte at the instrument's scale.
// Formatting always writes exactly s fractional digits.
//
// Concurrency: every function is pure and safe for concurrent use.
package fixedpoint
