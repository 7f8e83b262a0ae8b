// Command goref is the Go reference peer for memdemo's benchmark (bench/run).
//
// It serves the same endpoints as the C server, written the obvious Go way and using
// only the standard library, so that bench/run can put the two side by side:
//
//	GET /noleaker        makes -repetitions decimal strings into a request-local slice
//	                     (garbage once the handler returns)
//	GET /leaker          appends them to a global slice that is never freed
//	GET /debug/vars      expvar: "memstats" (runtime.MemStats) and "leaker" {strings, bytes}
//	GET /debug/pprof/... net/http/pprof: heap, trace?seconds=N, profile, ...
//
// With -addr 127.0.0.1:0 the kernel picks a free port; the chosen address is printed on
// stderr as "listening on http://HOST:PORT", the same line memdemo prints.
package main

import (
	"expvar"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof/ on http.DefaultServeMux
	"os"
	"runtime"
	"strconv"
	"sync"
)

var repetitions = flag.Int("repetitions", 1000, "strings made per request")

// kept is what /leaker leaks: every string it ever made, reachable forever.
var kept struct {
	sync.Mutex
	strings []string
	bytes   int64 // sum of len() of the strings in the slice
}

// makeStrings fills dst with strconv.Itoa(i) for i < n and returns it with the total
// length of the strings, which the handlers print so the work cannot be elided.
func makeStrings(dst []string, n int) ([]string, int) {
	sum := 0
	for i := 0; i < n; i++ {
		s := strconv.Itoa(i)
		sum += len(s)
		dst = append(dst, s)
	}
	return dst, sum
}

func noleaker(w http.ResponseWriter, r *http.Request) {
	// A fresh slice per request, grown by append as a straightforward program would.
	var local []string
	local, sum := makeStrings(local, *repetitions)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "noleaker: made %d strings (%d bytes)\n", len(local), sum)
}

func leaker(w http.ResponseWriter, r *http.Request) {
	kept.Lock()
	before := len(kept.strings)
	var sum int
	kept.strings, sum = makeStrings(kept.strings, *repetitions)
	kept.bytes += int64(sum)
	total := len(kept.strings)
	kept.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "leaker: kept %d strings (%d bytes), %d in total\n", total-before, sum, total)
}

func main() {
	addr := flag.String("addr", "localhost:8081", "listen address (HOST:0 picks a free port)")
	rate := flag.Int("memprofilerate", runtime.MemProfileRate,
		"runtime.MemProfileRate: bytes between heap profile samples (0 = off)")
	flag.Parse()
	if *repetitions < 0 {
		log.Fatalf("goref: -repetitions must be >= 0, got %d", *repetitions)
	}
	runtime.MemProfileRate = *rate

	// expvar's own import already publishes "cmdline" and "memstats".
	expvar.Publish("leaker", expvar.Func(func() interface{} {
		kept.Lock()
		defer kept.Unlock()
		return map[string]int64{"strings": int64(len(kept.strings)), "bytes": kept.bytes}
	}))
	http.HandleFunc("/noleaker", noleaker)
	http.HandleFunc("/leaker", leaker)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatalf("goref: %v", err)
	}
	fmt.Fprintf(os.Stderr, "goref: listening on http://%s (repetitions %d, memprofilerate %d)\n",
		ln.Addr(), *repetitions, runtime.MemProfileRate)
	log.Fatal(http.Serve(ln, nil))
}
