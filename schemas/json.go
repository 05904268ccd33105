package schemas

import (
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s to dst as a quoted JSON string and returns the
// extended slice. '"' and '\' are escaped with a backslash, every other
// byte below 0x20 as \u00XX, and each byte of invalid UTF-8 becomes
// \ufffd, so the output is always valid JSON that decodes to s (with
// U+FFFD for invalid bytes). Everything else, including valid multi-byte
// UTF-8, is copied. It does not allocate when dst has room.
func AppendJSONString(dst []byte, s string) []byte {
	return appendJSONString(dst, s)
}

// appendJSONString is AppendJSONString for strings and byte slices.
func appendJSONString[T ~string | ~[]byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			if c == '"' || c == '\\' {
				dst = append(dst, '\\', c)
			} else {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		if n := runeLen(s[i:min(len(s), i+utf8.UTFMax)]); n > 0 {
			i += n
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, `\ufffd`...)
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// runeLen returns the length of the valid UTF-8 sequence at the start of p
// (at most utf8.UTFMax bytes, the first >= 0x80), or 0 when it is invalid.
// The conversion of so short a slice does not allocate.
func runeLen[T ~string | ~[]byte](p T) int {
	r, n := utf8.DecodeRuneInString(string(p))
	if r == utf8.RuneError && n == 1 {
		return 0
	}
	return n
}

// appendKey appends `,"key":`.
func appendKey(dst []byte, key string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

// appendStringField appends `,"key":` and v as a JSON string.
func appendStringField[T ~string | ~[]byte](dst []byte, key string, v T) []byte {
	return appendJSONString(appendKey(dst, key), v)
}

// appendIntField appends `,"key":v`.
func appendIntField(dst []byte, key string, v int64) []byte {
	return strconv.AppendInt(appendKey(dst, key), v, 10)
}

// appendUintField appends `,"key":v`.
func appendUintField(dst []byte, key string, v uint64) []byte {
	return strconv.AppendUint(appendKey(dst, key), v, 10)
}
