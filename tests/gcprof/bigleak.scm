;; tests/gcprof/bigleak.scm: a Guile program whose heap is big enough for the default
;; sampling rate (one sample per 512 KiB) to estimate the bytes in use closely, for
;; tests/integration/gcprof_trace.sh. Usage: guile bigleak.scm ROUNDS
;; Each round keeps a bytevector of 1..128 KiB (cycling) in a hash table (the leak:
;; reachable until exit) and drops one of the same size (garbage the final collection
;; frees). 8192 rounds keep about 528 MB: some 1000 samples, so the estimate's standard
;; deviation is about 3%. Prints the table's size.
(use-modules (rnrs bytevectors))

(define table (make-hash-table))

(define (size-of round) (* 1024 (+ 1 (modulo round 128))))

(define (run rounds)
  (let loop ((r 0))
    (when (< r rounds)
      (hash-set! table r (make-bytevector (size-of r) 0))
      (make-bytevector (size-of r) 1)
      (loop (+ r 1)))))

(run (string->number (cadr (command-line))))
(display (hash-count (const #t) table))
(newline)
