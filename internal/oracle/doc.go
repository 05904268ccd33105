// Package oracle holds deliberately simple, obviously correct models of
// marketfeed's data structures, used by tests across the project to check
// the optimised implementations against.
//
// Book is a pair of maps; Ticker keeps every trade and recomputes its
// statistics from the full list with shopspring decimal arithmetic. Neither
// is meant for production use: they favour clarity over speed and allocate
// freely. The only thing they share with the production code is the
// definition of what they compute (for Ticker, the 24 h window).
//
// Concurrency: values are not safe for concurrent use; the functions are
// pure.
package oracle
