;; tests/gcprof/leak.lisp: an Embeddable Common Lisp program that leaks into a hash
;; table while it makes garbage, on WORKERS threads of its own besides the main one, for
;; tests/integration/gcprof.sh. Usage: ecl --norc --shell leak.lisp ROUNDS WORKERS
;; Each round of the main thread keeps a 64-slot vector and a 100-character string in
;; the table (the leak: both stay reachable until exit) and builds and drops 200 4-cell
;; lists; each worker (mp:process-run-function: bdwgc's GC_pthread_create) makes
;; ROUNDS/10 rounds of garbage only. Prints the garbage count and the table's size,
;; which the test compares with and without the profiler.
(defvar *table* (make-hash-table))

(defun garbage (n)
  (let ((acc nil))
    (dotimes (i n) (push (make-list 4) acc) (when (> (length acc) 50) (setf acc nil)))
    (length acc)))

(defun run (rounds)
  (let ((sum 0))
    (dotimes (r rounds)
      (setf (gethash r *table*) (make-array 64 :initial-element r))
      (setf (gethash (- -1 r) *table*) (make-string 100 :initial-element #\x))
      (incf sum (garbage 200)))
    sum))

(defun worker (rounds)
  (lambda () (dotimes (r (floor rounds 10)) (garbage 200))))

(let* ((args (last ext:*command-args* 2))
       (rounds (parse-integer (first args)))
       (workers (loop for k below (parse-integer (second args))
                      collect (mp:process-run-function (format nil "worker-~a" k) (worker rounds)))))
  (format t "~a~%" (run rounds))
  (mapc #'mp:process-join workers)
  (format t "~a~%" (hash-table-count *table*)))
(ext:quit 0)
