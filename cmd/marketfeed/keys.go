package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/marketfeed/marketfeed/auth"
)

const keysUsage = `Usage:
  marketfeed keys create -file FILE -id ID -plan PLAN [-expires RFC3339]
  marketfeed keys list   -file FILE
  marketfeed keys revoke -file FILE -id ID
  marketfeed keys show   -file FILE -id ID

The key file holds plans and key hashes (see README, "API keys"). create
prints the new secret once: it is not stored and cannot be shown again. A
server watching the file applies changes within a second.
`

func runKeys(args []string) error {
	if len(args) < 1 {
		fmt.Fprint(os.Stderr, keysUsage)
		os.Exit(2)
	}
	fs := flag.NewFlagSet("keys "+args[0], flag.ExitOnError)
	file := fs.String("file", env("MARKETFEED_KEYS", "keys.json"), "key file (env MARKETFEED_KEYS)")
	id := fs.String("id", "", "key id: 1 to 64 of A-Z a-z 0-9 . _ -")
	plan := fs.String("plan", "", "create: the plan the key refers to")
	expires := fs.String("expires", "", "create: expiry time, RFC 3339 (e.g. 2027-01-01T00:00:00Z); empty: never")
	fs.Usage = func() { fmt.Fprint(fs.Output(), keysUsage); fs.PrintDefaults() }
	_ = fs.Parse(args[1:])
	switch args[0] {
	case "create":
		var exp time.Time
		if *expires != "" {
			var err error
			if exp, err = time.Parse(time.RFC3339, *expires); err != nil {
				return fmt.Errorf("-expires: %w", err)
			}
		}
		if *id == "" || *plan == "" {
			return errors.New("keys create: -id and -plan are required")
		}
		secret, err := auth.CreateKey(*file, *id, *plan, exp)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "created key %q (plan %s) in %s; its secret, shown only this once:\n", *id, *plan, *file)
		fmt.Println(secret)
		return nil
	case "revoke":
		if err := auth.RevokeKey(*file, *id); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "revoked key %q in %s\n", *id, *file)
		return nil
	case "list":
		f, err := auth.ReadFile(*file)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPLAN\tCREATED\tEXPIRES\tSTATE")
		for _, k := range f.Keys {
			plan, state := k.Plan, "active"
			if k.Entitlements != nil {
				plan = "(own)"
			}
			switch {
			case k.Revoked:
				state = "revoked"
			case !k.Expires.IsZero() && !time.Now().Before(k.Expires):
				state = "expired"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID, plan, stamp(k.Created), stamp(k.Expires), state)
		}
		return tw.Flush()
	case "show":
		f, err := auth.ReadFile(*file)
		if err != nil {
			return err
		}
		k := f.Find(*id)
		if k == nil {
			return fmt.Errorf("%w: %q", auth.ErrNoSuchKey, *id)
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(f.Describe(k))
	}
	fmt.Fprint(os.Stderr, keysUsage)
	os.Exit(2)
	return nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
