package fanout

import "github.com/marketfeed/marketfeed/schemas"

// defaultInterval is the interval of a subscription that names none, as
// the protocol defines it (schemas.DefaultInterval).
func defaultInterval(k schemas.ChannelKind) schemas.Interval {
	iv, _ := schemas.ParseInterval(schemas.DefaultInterval(k))
	return iv
}
