;; f64x2 SIMD kernel for the O(m²) part of Householder tridiagonalization (src/eigen.ts runs the O(m)
;; parts). The matrix is row-major n×n float64 at $a; only its upper triangle is read or written.
(module
  ;; Imported; the build's shared variant lets a helper thread run part of the rows on the same matrix.
  (import "env" "memory" (memory 1))
;; One fused pass of the Householder reduction over rows m0..i1-1 of the trailing block (columns up to
;; n-1; two threads split the rows and accumulate p in separate buffers): first apply the
;; pending rank-2 update of the previous step, T[i][j] -= vp[i]·wp[j] + wp[i]·vp[j], then use the updated
;; entry at once for p += T·v (both (i, j) and (j, i) halves). Reading and writing the trailing matrix once
;; per step instead of three times is what matters once it no longer fits in cache.
  (func (export "fused_step") (param $a i32) (param $n i32) (param $m0 i32) (param $i1 i32)
    (param $vp i32) (param $wp i32) (param $v i32) (param $p i32)
    (local $i i32) (local $j i32) (local $row i32) (local $end i32) (local $q i32) (local $jb i32)
    (local $vpi f64) (local $wpi f64) (local $vi f64) (local $t f64) (local $acc f64)
    (local $vpiv v128) (local $wpiv v128) (local $viv v128) (local $tv v128) (local $accv v128) (local $pj i32)
    (local.set $end (i32.sub (local.get $n) (i32.const 1)))
    (local.set $i (local.get $m0))
    (block $iDone (loop $iLoop
      (br_if $iDone (i32.ge_u (local.get $i) (local.get $i1)))
      (local.set $row (i32.add (local.get $a) (i32.shl (i32.mul (local.get $i) (local.get $n)) (i32.const 3))))
      (local.set $vpi (f64.load (i32.add (local.get $vp) (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $wpi (f64.load (i32.add (local.get $wp) (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $vi (f64.load (i32.add (local.get $v) (i32.shl (local.get $i) (i32.const 3)))))
      (local.set $vpiv (f64x2.splat (local.get $vpi)))
      (local.set $wpiv (f64x2.splat (local.get $wpi)))
      (local.set $viv (f64x2.splat (local.get $vi)))
      ;; diagonal entry
      (local.set $q (i32.add (local.get $row) (i32.shl (local.get $i) (i32.const 3))))
      (local.set $t (f64.sub (f64.load (local.get $q))
        (f64.add (f64.mul (local.get $vpi) (local.get $wpi)) (f64.mul (local.get $wpi) (local.get $vpi)))))
      (f64.store (local.get $q) (local.get $t))
      (local.set $acc (f64.mul (local.get $t) (local.get $vi)))
      (local.set $accv (v128.const f64x2 0 0))
      (local.set $j (i32.add (local.get $i) (i32.const 1)))
      (block $jDone (loop $jLoop
        (br_if $jDone (i32.ge_s (local.get $j) (local.get $end)))
        (local.set $jb (i32.shl (local.get $j) (i32.const 3)))
        (local.set $q (i32.add (local.get $row) (local.get $jb)))
        (local.set $tv (f64x2.sub (v128.load (local.get $q))
          (f64x2.add
            (f64x2.mul (local.get $vpiv) (v128.load (i32.add (local.get $wp) (local.get $jb))))
            (f64x2.mul (local.get $wpiv) (v128.load (i32.add (local.get $vp) (local.get $jb)))))))
        (v128.store (local.get $q) (local.get $tv))
        (local.set $accv (f64x2.add (local.get $accv) (f64x2.mul (local.get $tv) (v128.load (i32.add (local.get $v) (local.get $jb))))))
        (local.set $pj (i32.add (local.get $p) (local.get $jb)))
        (v128.store (local.get $pj) (f64x2.add (v128.load (local.get $pj)) (f64x2.mul (local.get $tv) (local.get $viv))))
        (local.set $j (i32.add (local.get $j) (i32.const 2)))
        (br $jLoop)))
      (if (i32.lt_u (local.get $j) (local.get $n)) (then
        (local.set $jb (i32.shl (local.get $j) (i32.const 3)))
        (local.set $q (i32.add (local.get $row) (local.get $jb)))
        (local.set $t (f64.sub (f64.load (local.get $q))
          (f64.add
            (f64.mul (local.get $vpi) (f64.load (i32.add (local.get $wp) (local.get $jb))))
            (f64.mul (local.get $wpi) (f64.load (i32.add (local.get $vp) (local.get $jb)))))))
        (f64.store (local.get $q) (local.get $t))
        (local.set $acc (f64.add (local.get $acc) (f64.mul (local.get $t) (f64.load (i32.add (local.get $v) (local.get $jb))))))
        (local.set $pj (i32.add (local.get $p) (local.get $jb)))
        (f64.store (local.get $pj) (f64.add (f64.load (local.get $pj)) (f64.mul (local.get $t) (local.get $vi))))))
      (local.set $pj (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 3))))
      (f64.store (local.get $pj) (f64.add (f64.load (local.get $pj))
        (f64.add (local.get $acc)
          (f64.add (f64x2.extract_lane 0 (local.get $accv)) (f64x2.extract_lane 1 (local.get $accv))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $iLoop)))
  )
)
