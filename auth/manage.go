package auth

import (
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// CreateKey adds a key with id and plan to the key file name (created if
// missing, with no plans: define the plan first) and returns its secret,
// which is not stored anywhere and cannot be shown again. expires may be
// zero.
func CreateKey(name, id, plan string, expires time.Time) (string, error) {
	f, err := ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = &File{Plans: map[string]*Plan{}}, nil
	}
	if err != nil {
		return "", err
	}
	if f.Find(id) != nil {
		return "", fmt.Errorf("key %q already exists", id)
	}
	secret, err := NewSecret()
	if err != nil {
		return "", err
	}
	f.Keys = append(f.Keys, &KeyEntry{ID: id, Hash: HashSecret(secret), Plan: plan,
		Created: time.Now().UTC().Truncate(time.Second), Expires: expires})
	if err := WriteFile(name, f); err != nil {
		return "", err
	}
	return secret, nil
}

// RevokeKey marks the key id revoked in the key file name. A server
// watching the file closes the key's connections.
func RevokeKey(name, id string) error {
	f, err := ReadFile(name)
	if err != nil {
		return err
	}
	k := f.Find(id)
	if k == nil {
		return fmt.Errorf("%w: %q", ErrNoSuchKey, id)
	}
	k.Revoked = true
	return WriteFile(name, f)
}

// KeyInfo describes a key without its hash.
type KeyInfo struct {
	ID           string    `json:"id"`
	Plan         string    `json:"plan,omitempty"`
	Created      time.Time `json:"created,omitzero"`
	Expires      time.Time `json:"expires,omitzero"`
	Revoked      bool      `json:"revoked,omitempty"`
	Entitlements *Plan     `json:"entitlements"`
}

// Describe returns the key's information with its effective entitlements
// (its own, else its plan's).
func (f *File) Describe(k *KeyEntry) KeyInfo {
	info := KeyInfo{ID: k.ID, Plan: k.Plan, Created: k.Created, Expires: k.Expires, Revoked: k.Revoked,
		Entitlements: k.Entitlements}
	if info.Entitlements == nil {
		info.Entitlements = f.Plans[k.Plan]
	}
	return info
}
