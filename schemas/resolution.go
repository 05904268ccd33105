package schemas

// Resolution is the period of the candles of a candles subscription: the
// typed form of the protocol's "resolution" field. It indexes
// per-resolution tables: its values run from 0 to NumResolutions-1.
type Resolution uint8

// Candle resolutions, finest first.
const (
	// Res1m: one-minute candles ("1m"), the default.
	Res1m Resolution = iota
	// Res5m: five-minute candles ("5m").
	Res5m
	// Res15m: fifteen-minute candles ("15m").
	Res15m
	// Res1h: hourly candles ("1h").
	Res1h
	// Res1d: daily candles ("1d"), from 00:00 UTC.
	Res1d

	// NumResolutions is the number of resolutions.
	NumResolutions
)

// DefaultResolution is the resolution of a candles subscription without
// "resolution".
const DefaultResolution = Res1m

// CandleHistory is how many closed candles a candles subscription
// receives on subscribe (the newest ones the server holds), and how many
// the server keeps per symbol and resolution.
const CandleHistory = 500

var resolutions = [NumResolutions]struct {
	name   string
	micros int64
}{
	Res1m:  {"1m", 60_000_000},
	Res5m:  {"5m", 5 * 60_000_000},
	Res15m: {"15m", 15 * 60_000_000},
	Res1h:  {"1h", 3600_000_000},
	Res1d:  {"1d", 86400_000_000},
}

// String returns the protocol name of the resolution ("1m", "5m", "15m",
// "1h", "1d"), "invalid" for a value out of range.
func (r Resolution) String() string {
	if r >= NumResolutions {
		return "invalid"
	}
	return resolutions[r].name
}

// Micros returns the resolution's period in microseconds, 0 for a value
// out of range. Candles start at the multiples of it since the Unix epoch
// (UTC boundaries).
func (r Resolution) Micros() int64 {
	if r >= NumResolutions {
		return 0
	}
	return resolutions[r].micros
}

// ParseResolution parses a protocol resolution name.
func ParseResolution(s string) (Resolution, bool) {
	for r := range NumResolutions {
		if resolutions[r].name == s {
			return r, true
		}
	}
	return 0, false
}
