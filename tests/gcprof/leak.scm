;; tests/gcprof/leak.scm: a Guile program that leaks into a hash table while it makes
;; garbage, for tests/integration/gcprof.sh. Usage: guile leak.scm ROUNDS
;; Each round keeps a 64-slot vector and a 100-character string in the table (the
;; leak: both stay reachable until exit) and builds and drops 200 8-slot vectors.
;; Prints the garbage count and the table's size, which the test compares with and
;; without the profiler.
(define table (make-hash-table))

(define (garbage n)
  (let loop ((i 0) (acc '()))
    (if (< i n)
        (loop (+ i 1) (cons (make-vector 8 i) (if (> (length acc) 50) '() acc)))
        (length acc))))

(define (run rounds)
  (let loop ((r 0) (sum 0))
    (if (< r rounds)
        (begin
          (hash-set! table r (make-vector 64 r))
          (hash-set! table (number->string r) (make-string 100 #\x))
          (loop (+ r 1) (+ sum (garbage 200))))
        sum)))

(define rounds (string->number (cadr (command-line))))
(display (run rounds))
(newline)
(display (hash-count (const #t) table))
(newline)
