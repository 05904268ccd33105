package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// File is the key file: plans and the keys that refer to them. Keys are
// stored as hashes only.
//
//	{
//	  "anonymous": "free",
//	  "plans": {"free": {"symbols": ["*"], "max_depth": 20, "min_interval": "100ms"}},
//	  "keys": [{"id": "alice", "hash": "sha256:…", "plan": "pro"}]
//	}
type File struct {
	// Anonymous names the plan of clients that present no key. Empty
	// means such clients are refused (HTTP 401).
	Anonymous string `json:"anonymous,omitempty"`
	// Plans by name.
	Plans map[string]*Plan `json:"plans"`
	// Keys in file order.
	Keys []*KeyEntry `json:"keys"`
}

// KeyEntry is one API key of the key file.
type KeyEntry struct {
	// ID names the key in listings, logs and metrics; unique in the file.
	ID string `json:"id"`
	// Hash is HashSecret of the key.
	Hash string `json:"hash"`
	// Plan names the key's plan; Entitlements, when set, is used instead.
	Plan string `json:"plan,omitempty"`
	// Entitlements overrides the plan with the key's own.
	Entitlements *Plan `json:"entitlements,omitempty"`
	// Created is when the key was created.
	Created time.Time `json:"created,omitzero"`
	// Expires, when set, is when the key stops working.
	Expires time.Time `json:"expires,omitzero"`
	// Revoked keys are refused and their connections closed.
	Revoked bool `json:"revoked,omitempty"`
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// key is a compiled key entry.
type key struct {
	id      string
	hash    [sha256.Size]byte
	ent     *Entitlements
	expires time.Time
	revoked bool
}

// snapshot is a compiled key file. Immutable once published.
type snapshot struct {
	byHash    map[[sha256.Size]byte]*key
	byID      map[string]*key
	anonymous *Entitlements // nil: anonymous clients are refused
	expiries  []time.Time   // future expiry times, for re-checking
}

// ReadFile reads and parses a key file.
func ReadFile(name string) (*File, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return ParseFile(data)
}

// ParseFile parses a key file's contents; unknown fields are errors so a
// misspelt limit is not silently ignored.
func ParseFile(data []byte) (*File, error) {
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if _, err := f.compile(); err != nil {
		return nil, err
	}
	return &f, nil
}

// compile checks f and builds its snapshot. Errors name keys by id only.
func (f *File) compile() (*snapshot, error) {
	plans := make(map[string]*Entitlements, len(f.Plans))
	for name, p := range f.Plans {
		if p == nil {
			return nil, fmt.Errorf("key file: plan %q is empty", name)
		}
		e, err := p.Compile()
		if err != nil {
			return nil, fmt.Errorf("key file: plan %q: %w", name, err)
		}
		plans[name] = e
	}
	s := &snapshot{byHash: make(map[[sha256.Size]byte]*key), byID: make(map[string]*key)}
	if f.Anonymous != "" {
		if s.anonymous = plans[f.Anonymous]; s.anonymous == nil {
			return nil, fmt.Errorf("key file: anonymous plan %q is not defined", f.Anonymous)
		}
	}
	now := time.Now()
	for i, k := range f.Keys {
		if k == nil || !idPattern.MatchString(k.ID) {
			return nil, fmt.Errorf("key file: key #%d: id must be 1 to 64 of A-Z a-z 0-9 . _ -", i+1)
		}
		if _, dup := s.byID[k.ID]; dup {
			return nil, fmt.Errorf("key file: key id %q appears twice", k.ID)
		}
		h, err := parseHash(k.Hash)
		if err != nil {
			return nil, fmt.Errorf("key file: key %q: %w", k.ID, err)
		}
		if _, dup := s.byHash[h]; dup {
			return nil, fmt.Errorf("key file: key %q has the hash of another key", k.ID)
		}
		var ent *Entitlements
		switch {
		case k.Entitlements != nil:
			if ent, err = k.Entitlements.Compile(); err != nil {
				return nil, fmt.Errorf("key file: key %q: %w", k.ID, err)
			}
		case plans[k.Plan] != nil:
			ent = plans[k.Plan]
		default:
			return nil, fmt.Errorf("key file: key %q: plan %q is not defined", k.ID, k.Plan)
		}
		ck := &key{id: k.ID, hash: h, ent: ent, expires: k.Expires, revoked: k.Revoked}
		s.byHash[h], s.byID[k.ID] = ck, ck
		if !k.Expires.IsZero() && k.Expires.After(now) {
			s.expiries = append(s.expiries, k.Expires)
		}
	}
	return s, nil
}

// WriteFile writes f to name atomically (a temporary file renamed over
// it), readable by its owner only.
func WriteFile(name string, f *File) error {
	if _, err := f.compile(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(name), ".keys-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), name)
}

// ErrNoSuchKey is returned for a key id not in the file.
var ErrNoSuchKey = errors.New("no such key")

// Find returns the entry with id, or nil.
func (f *File) Find(id string) *KeyEntry {
	for _, k := range f.Keys {
		if k.ID == id {
			return k
		}
	}
	return nil
}
