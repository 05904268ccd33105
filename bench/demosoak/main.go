// Command demosoak runs the demo for a long time with the browser page open
// as an anonymous visitor (headless Chromium) and records the demo's
// memory: every -every it prints the demo's resident set size, its Go heap
// and what the page shows (book seq, trades on the tape, tickers on the
// board); at the end it saves a screenshot of the page and prints the
// largest RSS seen.
//
//	go build -o /tmp/marketfeed ./cmd/marketfeed
//	go run ./bench/demosoak -bin /tmp/marketfeed -duration 30m -screenshot page.png
//
// The demo runs as a child process (its flags follow "--"), so its RSS is
// its own.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketfeed/marketfeed/bench/internal/procstat"
)

func main() {
	bin := flag.String("bin", "", "marketfeed binary (required)")
	listen := flag.String("listen", "127.0.0.1:18080", "address of the demo")
	duration := flag.Duration("duration", 30*time.Minute, "how long to run")
	every := flag.Duration("every", 30*time.Second, "sampling period")
	shot := flag.String("screenshot", "", "where to save a screenshot of the page at the end (PNG)")
	browser := flag.String("chromium", "chromium", "Chromium binary")
	flag.Parse()
	if *bin == "" {
		log.Fatal("-bin is required")
	}
	args := append([]string{"demo", "-listen", *listen}, flag.Args()...)
	cmd := exec.Command(*bin, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	go io.Copy(io.Discard, out)
	base := "http://" + *listen
	if err := waitReady(base+"/readyz", time.Minute); err != nil {
		log.Fatal(err)
	}

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(*browser), chromedp.Flag("headless", true), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1440, 860))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Run(ctx, chromedp.EmulateViewport(1440, 860), chromedp.Navigate(base+"/")); err != nil {
		log.Fatal(err)
	}

	fmt.Printf("# demo pid %d, page %s/ (anonymous), %v every %v\n", cmd.Process.Pid, base, *duration, *every)
	fmt.Println("# elapsed_s rss_mib heap_inuse_mib page_conn book_state book_seq trades_on_tape tickers_shown")
	start := time.Now()
	var maxRSS int64
	for {
		rss, _ := procstat.RSSBytes(cmd.Process.Pid)
		maxRSS = max(maxRSS, rss)
		heap := metric(base+"/metrics", "go_memstats_heap_inuse_bytes")
		var st struct {
			Conn, Book, Seq string
			Trades, Tickers int
		}
		_ = chromedp.Run(ctx, chromedp.Evaluate(`(() => {
  const l = document.getElementById("ladder");
  const last = [...document.querySelectorAll("#board tbody tr")].map(r => r.cells[1].textContent);
  return {Conn: document.getElementById("conn").dataset.state || "", Book: l.dataset.state || "", Seq: l.dataset.seq || "",
    Trades: document.querySelectorAll("#trades .trade").length, Tickers: last.filter(v => v && v !== "—").length};
})()`, &st))
		fmt.Printf("%d %.1f %.1f %s %s %s %d %d\n", int(time.Since(start).Seconds()), float64(rss)/(1<<20), heap/(1<<20),
			st.Conn, st.Book, st.Seq, st.Trades, st.Tickers)
		if time.Since(start) >= *duration {
			break
		}
		time.Sleep(*every)
	}
	fmt.Printf("# max RSS %.1f MiB over %v\n", float64(maxRSS)/(1<<20), time.Since(start).Round(time.Second))
	if *shot != "" {
		var png []byte
		if err := chromedp.Run(ctx, chromedp.CaptureScreenshot(&png)); err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(*shot, png, 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("# screenshot saved to %s\n", *shot)
	}
}

func waitReady(url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if res, err := http.Get(url); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready within %v", url, d)
}

// metric returns the value of an unlabelled metric at url, 0 if absent.
func metric(url, name string) float64 {
	res, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}
