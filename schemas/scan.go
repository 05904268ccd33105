package schemas

import (
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is the deepest nesting of objects and arrays DecodeRecord
// accepts; the top-level object counts as 1.
const maxDepth = 64

// scanner is the JSON tokenizer under DecodeRecord. Methods return false on
// a syntax error, recorded once in synMsg/synPos.
type scanner struct {
	data    []byte
	pos     int
	scratch *[]byte // destination of unescaped strings
	synMsg  string
	synPos  int
}

func (s *scanner) fail(msg string) bool {
	if s.synMsg == "" {
		s.synMsg, s.synPos = msg, s.pos
	}
	return false
}

// ws skips JSON whitespace.
func (s *scanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek returns the current byte, or 0 at the end of the input.
func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

// expect consumes c or fails.
func (s *scanner) expect(c byte, msg string) bool {
	if s.peek() != c {
		return s.fail(msg)
	}
	s.pos++
	return true
}

// plain marks the bytes a string holds as is: printable ASCII other than
// '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// validRune checks the UTF-8 sequence at data[i] (a byte >= 0x80) and
// returns its length, or 0 when it is invalid.
func validRune(data []byte, i int) int {
	r, n := utf8.DecodeRune(data[i:])
	if r == utf8.RuneError && n == 1 {
		return 0
	}
	return n
}

// str reads the string starting at the current '"'. Without escapes the
// result aliases the input; otherwise it is unescaped into the scratch
// buffer.
func (s *scanner) str() ([]byte, bool) {
	s.pos++
	start := s.pos
	for i := start; i < len(s.data); i++ {
		c := s.data[i]
		if plain[c] {
			continue
		}
		switch {
		case c == '"':
			s.pos = i + 1
			return s.data[start:i], true
		case c == '\\':
			return s.strEscaped(start, i)
		case c < 0x20:
			s.pos = i
			return nil, s.fail("control character in string")
		case c >= 0x80:
			n := validRune(s.data, i)
			if n == 0 {
				s.pos = i
				return nil, s.fail("invalid UTF-8 in string")
			}
			i += n - 1
		}
	}
	s.pos = len(s.data)
	return nil, s.fail("unterminated string")
}

// hex4 decodes four hex digits at data[i:], or returns -1.
func hex4(data []byte, i int) rune {
	if i+4 > len(data) {
		return -1
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// strEscaped continues str from the first backslash at data[i]. Lone or
// mismatched UTF-16 surrogates become U+FFFD.
func (s *scanner) strEscaped(start, i int) ([]byte, bool) {
	buf := *s.scratch
	s0 := len(buf)
	buf = append(buf, s.data[start:i]...)
	defer func() { *s.scratch = buf }()
	for i < len(s.data) {
		c := s.data[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return buf[s0:], true
		case c == '\\':
			if i+1 >= len(s.data) {
				s.pos = i
				return nil, s.fail("unterminated string")
			}
			i++
			switch e := s.data[i]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r := hex4(s.data, i+1)
				if r < 0 {
					s.pos = i
					return nil, s.fail("invalid \\u escape")
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+2 < len(s.data) && s.data[i+1] == '\\' && s.data[i+2] == 'u' {
						r2 = hex4(s.data, i+3)
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				s.pos = i
				return nil, s.fail("invalid escape")
			}
			i++
		case c < 0x20:
			s.pos = i
			return nil, s.fail("control character in string")
		case c >= 0x80:
			n := validRune(s.data, i)
			if n == 0 {
				s.pos = i
				return nil, s.fail("invalid UTF-8 in string")
			}
			buf = append(buf, s.data[i:i+n]...)
			i += n
		default:
			buf = append(buf, c)
			i++
		}
	}
	s.pos = len(s.data)
	return nil, s.fail("unterminated string")
}

// skipString validates the string at the current '"' without copying it.
func (s *scanner) skipString() bool {
	for i := s.pos + 1; i < len(s.data); i++ {
		c := s.data[i]
		switch {
		case c == '"':
			s.pos = i + 1
			return true
		case c == '\\':
			i++
			if i >= len(s.data) {
				break
			}
			switch s.data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if hex4(s.data, i+1) < 0 {
					s.pos = i
					return s.fail("invalid \\u escape")
				}
				i += 4
			default:
				s.pos = i
				return s.fail("invalid escape")
			}
		case c < 0x20:
			s.pos = i
			return s.fail("control character in string")
		case c >= 0x80:
			n := validRune(s.data, i)
			if n == 0 {
				s.pos = i
				return s.fail("invalid UTF-8 in string")
			}
			i += n - 1
		}
	}
	s.pos = len(s.data)
	return s.fail("unterminated string")
}

// number scans a JSON number and reports whether it is an integer (no
// fraction, no exponent).
func (s *scanner) number() (isInt, ok bool) {
	d := s.data
	i := s.pos
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && d[i] >= '1' && d[i] <= '9':
		for i++; i < len(d) && d[i] >= '0' && d[i] <= '9'; i++ {
		}
	default:
		s.pos = i
		return false, s.fail("invalid number")
	}
	isInt = true
	if i < len(d) && d[i] == '.' {
		isInt = false
		i++
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			return false, s.fail("invalid number")
		}
		for ; i < len(d) && d[i] >= '0' && d[i] <= '9'; i++ {
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		isInt = false
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if i >= len(d) || d[i] < '0' || d[i] > '9' {
			s.pos = i
			return false, s.fail("invalid number")
		}
		for ; i < len(d) && d[i] >= '0' && d[i] <= '9'; i++ {
		}
	}
	s.pos = i
	return isInt, true
}

// literal consumes the keyword lit.
func (s *scanner) literal(lit string) bool {
	if len(s.data)-s.pos < len(lit) || string(s.data[s.pos:s.pos+len(lit)]) != lit {
		return s.fail("invalid literal")
	}
	s.pos += len(lit)
	return true
}

// skip validates and skips one value; depth is the nesting level the value
// has if it is an object or array.
func (s *scanner) skip(depth int) bool {
	switch c := s.peek(); {
	case c == '{':
		return s.skipObject(depth)
	case c == '[':
		return s.skipArray(depth)
	case c == '"':
		return s.skipString()
	case c == '-' || (c >= '0' && c <= '9'):
		_, ok := s.number()
		return ok
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case s.pos >= len(s.data):
		return s.fail("unexpected end of input")
	default:
		return s.fail("unexpected character")
	}
}

// skipObject validates and skips the object starting at the current '{'.
func (s *scanner) skipObject(depth int) bool {
	if depth > maxDepth {
		return s.fail("nesting too deep")
	}
	s.pos++
	s.ws()
	if s.peek() == '}' {
		s.pos++
		return true
	}
	for {
		if s.peek() != '"' {
			return s.fail("expected object key")
		}
		if !s.skipString() {
			return false
		}
		s.ws()
		if !s.expect(':', "expected ':'") {
			return false
		}
		s.ws()
		if !s.skip(depth + 1) {
			return false
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.pos++
			s.ws()
		case '}':
			s.pos++
			return true
		default:
			return s.fail("expected ',' or '}'")
		}
	}
}

// skipArray validates and skips the array starting at the current '['.
func (s *scanner) skipArray(depth int) bool {
	if depth > maxDepth {
		return s.fail("nesting too deep")
	}
	s.pos++
	s.ws()
	if s.peek() == ']' {
		s.pos++
		return true
	}
	for {
		if !s.skip(depth + 1) {
			return false
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.pos++
			s.ws()
		case ']':
			s.pos++
			return true
		default:
			return s.fail("expected ',' or ']'")
		}
	}
}
