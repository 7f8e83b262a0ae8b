;; tests/gcprof/threads.scm: Guile running three threads of its own (call-with-new-thread)
;; that make garbage while the main thread waits for them, for tests/integration/
;; gcprof_trace.sh: the GC timeline must show each allocating thread as a goroutine.
;; Usage: guile threads.scm ROUNDS. Prints the sum of the threads' results.
(use-modules (ice-9 threads))

(define (churn rounds)
  (let loop ((i 0) (acc '()) (n 0))
    (if (< i rounds)
        (loop (+ i 1) (if (= n 50) '() (cons (make-vector 8 i) acc)) (if (= n 50) 0 (+ n 1)))
        n)))

(define rounds (string->number (cadr (command-line))))
(define workers (map (lambda (k) (call-with-new-thread (lambda () (churn rounds)))) '(1 2 3)))
(display (apply + (map join-thread workers)))
(newline)
