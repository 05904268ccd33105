package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"strings"
)

// KeyPrefix starts every API key, so keys are easy to recognise (in
// configuration, in leaked-secret scanners).
const KeyPrefix = "mfk_"

// keyBytes is the number of random bytes in a key: 160 bits.
const keyBytes = 20

var keyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// hashPrefix marks the hash algorithm in the key file.
const hashPrefix = "sha256:"

// NewSecret returns a fresh API key: KeyPrefix followed by 160 random bits
// in lower-case base32 (36 characters in all).
func NewSecret() (string, error) {
	var b [keyBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return KeyPrefix + strings.ToLower(keyEncoding.EncodeToString(b[:])), nil
}

// HashSecret returns the key file form of a secret's hash,
// "sha256:<64 hex digits>".
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hashPrefix + hex.EncodeToString(sum[:])
}

// wellFormed reports whether s looks like a key this package issues. It
// does not say whether the key is known.
func wellFormed(s string) bool {
	if !strings.HasPrefix(s, KeyPrefix) || len(s) != len(KeyPrefix)+keyEncoding.EncodedLen(keyBytes) {
		return false
	}
	for _, r := range s[len(KeyPrefix):] {
		if !(r >= 'a' && r <= 'z' || r >= '2' && r <= '7') {
			return false
		}
	}
	return true
}

// parseHash decodes a key file hash.
func parseHash(s string) ([sha256.Size]byte, error) {
	var out [sha256.Size]byte
	h, ok := strings.CutPrefix(s, hashPrefix)
	if !ok {
		return out, errors.New(`hash must start with "sha256:"`)
	}
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return out, errors.New("hash must be 64 hex digits after sha256:")
	}
	copy(out[:], b)
	return out, nil
}

// sameHash compares two hashes in constant time.
func sameHash(a, b *[sha256.Size]byte) bool {
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
