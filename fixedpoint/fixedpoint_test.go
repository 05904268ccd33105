package fixedpoint

import (
	"errors"
	"math"
	"testing"

	"github.com/shopspring/decimal"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in    string
		scale int
		want  int64
		err   error
	}{
		{"64123.10", 2, 6412310, nil},
		{"64123.1", 2, 6412310, nil},
		{"64123", 2, 6412300, nil},
		{"0.00000001", 8, 1, nil},
		{"1.500", 2, 150, nil},
		{"-1.5", 2, -150, nil},
		{"0", 0, 0, nil},
		{"007.5", 1, 75, nil},
		{"9223372036854775807", 0, math.MaxInt64, nil},
		{"9223372036854775808", 0, 0, ErrRange},
		{"92233720368547758.08", 2, 0, ErrRange},
		{"1.005", 2, 0, ErrPrecision},
		{"1.0050", 2, 0, ErrPrecision},
		{"", 2, 0, ErrSyntax},
		{"-", 2, 0, ErrSyntax},
		{".5", 2, 0, ErrSyntax},
		{"5.", 2, 0, ErrSyntax},
		{"1e5", 2, 0, ErrSyntax},
		{"+1", 2, 0, ErrSyntax},
		{" 1", 2, 0, ErrSyntax},
		{"1.2.3", 2, 0, ErrSyntax},
		{"1.009x", 2, 0, ErrSyntax},
		{"NaN", 2, 0, ErrSyntax},
		{"1", 19, 0, ErrScale},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in, tt.scale)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("Parse(%q, %d) = %d, %v; want %d, %v", tt.in, tt.scale, got, err, tt.want, tt.err)
		}
		gotB, errB := ParseBytes([]byte(tt.in), tt.scale)
		if gotB != got || !errors.Is(errB, tt.err) {
			t.Errorf("ParseBytes(%q) disagrees with Parse", tt.in)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		v     int64
		scale int
		want  string
	}{
		{6412310, 2, "64123.10"},
		{5, 2, "0.05"},
		{-150, 2, "-1.50"},
		{0, 8, "0.00000000"},
		{42, 0, "42"},
		{math.MinInt64, 2, "-92233720368547758.08"},
		{math.MaxInt64, 18, "9.223372036854775807"},
	}
	for _, tt := range tests {
		if got := Format(tt.v, tt.scale); got != tt.want {
			t.Errorf("Format(%d, %d) = %q; want %q", tt.v, tt.scale, got, tt.want)
		}
	}
}

func TestRoundTripAgainstDecimal(t *testing.T) {
	for scale := 0; scale <= MaxScale; scale++ {
		for _, v := range []int64{0, 1, -1, 7, 123456789, -987654321, math.MaxInt64 / 3, math.MaxInt64, -math.MaxInt64} {
			s := Format(v, scale)
			back, err := Parse(s, scale)
			if err != nil || back != v {
				t.Fatalf("round trip %d at scale %d via %q: %d, %v", v, scale, s, back, err)
			}
			d := ToDecimal(v, scale)
			if d.StringFixed(int32(scale)) != s {
				t.Fatalf("decimal disagrees: %s vs %s", d.StringFixed(int32(scale)), s)
			}
			m, err := FromDecimal(d, scale)
			if err != nil || m != v {
				t.Fatalf("FromDecimal(%s, %d) = %d, %v", d, scale, m, err)
			}
		}
	}
	if _, err := FromDecimal(decimal.RequireFromString("1.005"), 2); !errors.Is(err, ErrPrecision) {
		t.Fatalf("FromDecimal precision: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"64123.10", "-0.5", "1.005", "", "9223372036854775807", "0.00000001"} {
		f.Add(s, 2)
	}
	f.Fuzz(func(t *testing.T, s string, scale int) {
		if scale < 0 || scale > MaxScale {
			return
		}
		v, err := Parse(s, scale)
		if err != nil {
			return
		}
		// An accepted value must equal the decimal library's reading of it.
		d, derr := decimal.NewFromString(s)
		if derr != nil {
			t.Fatalf("Parse accepted %q that decimal rejects: %v", s, derr)
		}
		if !ToDecimal(v, scale).Equal(d) {
			t.Fatalf("Parse(%q, %d) = %d, decimal says %s", s, scale, v, d)
		}
		back, err := Parse(Format(v, scale), scale)
		if err != nil || back != v {
			t.Fatalf("round trip of %d failed", v)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	s := []byte("64123.10")
	for b.Loop() {
		if _, err := ParseBytes(s, 2); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 32)
	for b.Loop() {
		buf = Append(buf[:0], 6412310, 2)
	}
}
