// numparse_echo.go: Go's side of tests/integration/numparse_go.sh. It reads the same
// hex-encoded inputs as tests/tools/numparse_echo.c and prints what Go's strconv makes
// of each, in the same line format, so that memdemo's grammars (src/numparse.h) can be
// compared with Go's line by line:
//   float:   strconv.ParseFloat(s, 64)  -> "ok BITS" (hex), "ok nan", "syntax", "range"
//   uint:    strconv.ParseUint(s, 0, 64) -> "ok N", "syntax", "range"
//   decimal: strconv.ParseUint(s, 10, 64), at most 2^63-1 -> "ok N" or "err"
package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
)

func word(err error) string {
	if errors.Is(err, strconv.ErrRange) {
		return "range"
	}
	return "syntax"
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: numparse_echo float|uint|decimal <hexlines")
		os.Exit(2)
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		b, err := hex.DecodeString(in.Text())
		if err != nil {
			fmt.Fprintln(os.Stderr, "numparse_echo: bad input line")
			os.Exit(2)
		}
		s := string(b)
		switch os.Args[1] {
		case "float":
			v, err := strconv.ParseFloat(s, 64)
			switch {
			case err != nil:
				fmt.Fprintln(out, word(err))
			case math.IsNaN(v):
				fmt.Fprintln(out, "ok nan")
			default:
				fmt.Fprintf(out, "ok %016x\n", math.Float64bits(v))
			}
		case "uint":
			v, err := strconv.ParseUint(s, 0, 64)
			if err != nil {
				fmt.Fprintln(out, word(err))
			} else {
				fmt.Fprintf(out, "ok %d\n", v)
			}
		default:
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil || v > math.MaxInt64 {
				fmt.Fprintln(out, "err")
			} else {
				fmt.Fprintf(out, "ok %d\n", v)
			}
		}
	}
}
