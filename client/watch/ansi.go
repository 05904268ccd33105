package watch

import (
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// ANSI escape sequences.
const (
	escHome        = "\x1b[H"
	escClearScreen = "\x1b[2J"
	escClearLine   = "\x1b[K"
	escClearBelow  = "\x1b[J"
	escHideCursor  = "\x1b[?25l"
	escShowCursor  = "\x1b[?25h"
	escReset       = "\x1b[0m"
	escRed         = "\x1b[31m"
	escGreen       = "\x1b[32m"
	escYellow      = "\x1b[33m"
	escBold        = "\x1b[1m"
	escDim         = "\x1b[2m"
)

// IsTerminal reports whether w is a character device such as a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// style renders text with or without colors.
type style struct {
	color    bool
	barWidth int
}

func (s style) paint(code, text string) string {
	if !s.color || text == "" {
		return text
	}
	return code + text + escReset
}

func (s style) green(t string) string  { return s.paint(escGreen, t) }
func (s style) red(t string) string    { return s.paint(escRed, t) }
func (s style) yellow(t string) string { return s.paint(escYellow, t) }
func (s style) bold(t string) string   { return s.paint(escBold, t) }
func (s style) dim(t string) string    { return s.paint(escDim, t) }

// padLeft right-aligns s in a field of width cells.
func padLeft(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return strings.Repeat(" ", width-n) + s
	}
	return s
}

// padRight left-aligns s in a field of width cells.
func padRight(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}

// screen returns the bytes that redraw the whole screen with lines: cursor
// home, each line followed by clear-to-end-of-line, then clear below.
func screen(lines []string, first bool) []byte {
	var b strings.Builder
	if first {
		b.WriteString(escHideCursor + escClearScreen)
	}
	b.WriteString(escHome)
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString(escClearLine + "\n")
	}
	b.WriteString(escClearBelow)
	return []byte(b.String())
}
