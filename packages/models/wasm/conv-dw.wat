;; f32x4 SIMD filter gradient of a 2-D convolution, NHWC, computed in place on the tfjs wasm heap.
;;
;; dW[kh,kw,c,co] += Σ_(n,oh,ow) x[n, oh·sh+kh−top, ow·sw+kw−left, c] · dy[n,oh,ow,co]
;;
;; For each filter tap (kh, kw) this is a matrix product Xᵀ·dY whose shared dimension is the output pixel:
;; a 4 (input channels) × 8 (output channels) tile of dW stays in eight registers while the pixels stream by,
;; one splat-load of x per input channel and two vector loads of dy per pixel. Taps that fall into the padding
;; are skipped by clipping the ow range per kw and skipping rows whose ih is outside the image, so padding
;; costs nothing and x is read where tfjs keeps it (no im2col, no transposes, no copies).
;; The caller passes a block of output rows r0..r1 (r = n·Ho + oh) small enough that its x and dy stay in
;; cache while every tap and tile visits it, and the input-channel blocks cb0..cb1 (of 4) and output-channel
;; blocks ob0..ob1 (of 8) to compute, so two threads can share one gradient without sharing a tile; it requires
;; C % 4 == 0 and Co % 8 == 0.
;; Baseline WebAssembly SIMD has no fused multiply-add, hence mul then add.
;; The memory is the tfjs wasm backend's own (imported); scripts/build-wasm.mjs also emits a shared-memory
;; variant for the multi-threaded tfjs build.
(module
  (import "env" "memory" (memory 1))
  (func (export "conv_dw")
    (param $x i32) (param $dy i32) (param $dw i32)
    (param $H i32) (param $W i32) (param $C i32) (param $Ho i32) (param $Wo i32) (param $Co i32)
    (param $KH i32) (param $KW i32) (param $sh i32) (param $sw i32) (param $top i32) (param $left i32)
    (param $r0 i32) (param $r1 i32) (param $cb0 i32) (param $cb1 i32) (param $ob0 i32) (param $ob1 i32)
    (local $kh i32) (local $kw i32) (local $lo i32) (local $hi i32) (local $cnt i32) (local $t i32)
    (local $cb i32) (local $ob i32) (local $o i32) (local $rowB i32)
    (local $xStep i32) (local $n i32) (local $oh i32) (local $r i32) (local $ih i32)
    (local $px i32) (local $pd i32) (local $px2 i32) (local $pd2 i32) (local $k i32)
    (local $s v128) (local $d0 v128) (local $d1 v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $rowB (i32.shl (local.get $Co) (i32.const 2)))
    (local.set $xStep (i32.shl (i32.mul (local.get $sw) (local.get $C)) (i32.const 2)))
    (local.set $kh (i32.const 0))
    (block $khDone (loop $khLoop
      (br_if $khDone (i32.ge_u (local.get $kh) (local.get $KH)))
      (local.set $kw (i32.const 0))
      (block $kwDone (loop $kwLoop
        (br_if $kwDone (i32.ge_u (local.get $kw) (local.get $KW)))
        ;; ow range whose iw = ow·sw + kw − left lies inside [0, W)
        (local.set $t (i32.sub (local.get $left) (local.get $kw)))
        (local.set $lo (select
          (i32.div_s (i32.sub (i32.add (local.get $t) (local.get $sw)) (i32.const 1)) (local.get $sw))
          (i32.const 0)
          (i32.gt_s (local.get $t) (i32.const 0))))
        (local.set $t (i32.add (i32.sub (i32.sub (local.get $W) (i32.const 1)) (local.get $kw)) (local.get $left)))
        (local.set $hi (select
          (i32.add (i32.div_s (local.get $t) (local.get $sw)) (i32.const 1))
          (i32.const 0)
          (i32.ge_s (local.get $t) (i32.const 0))))
        (if (i32.gt_s (local.get $hi) (local.get $Wo)) (then (local.set $hi (local.get $Wo))))
        (local.set $cnt (i32.sub (local.get $hi) (local.get $lo)))
        (if (i32.gt_s (local.get $cnt) (i32.const 0)) (then
          (local.set $cb (local.get $cb0))
          (block $cbDone (loop $cbLoop
            (br_if $cbDone (i32.ge_u (local.get $cb) (local.get $cb1)))
            (local.set $ob (local.get $ob0))
            (block $obDone (loop $obLoop
              (br_if $obDone (i32.ge_u (local.get $ob) (local.get $ob1)))
              ;; o = dw + (((kh·KW + kw)·C + 4·cb)·Co + 8·ob)·4
              (local.set $o (i32.add (local.get $dw) (i32.shl
                (i32.add
                  (i32.mul
                    (i32.add (i32.mul (i32.add (i32.mul (local.get $kh) (local.get $KW)) (local.get $kw)) (local.get $C))
                             (i32.shl (local.get $cb) (i32.const 2)))
                    (local.get $Co))
                  (i32.shl (local.get $ob) (i32.const 3)))
                (i32.const 2))))
              (local.set $c00 (v128.load offset=0 (local.get $o)))
              (local.set $c01 (v128.load offset=16 (local.get $o)))
              (local.set $o (i32.add (local.get $o) (local.get $rowB)))
              (local.set $c10 (v128.load offset=0 (local.get $o)))
              (local.set $c11 (v128.load offset=16 (local.get $o)))
              (local.set $o (i32.add (local.get $o) (local.get $rowB)))
              (local.set $c20 (v128.load offset=0 (local.get $o)))
              (local.set $c21 (v128.load offset=16 (local.get $o)))
              (local.set $o (i32.add (local.get $o) (local.get $rowB)))
              (local.set $c30 (v128.load offset=0 (local.get $o)))
              (local.set $c31 (v128.load offset=16 (local.get $o)))
              (local.set $o (i32.sub (local.get $o) (i32.mul (local.get $rowB) (i32.const 3))))
              (local.set $n (i32.div_u (local.get $r0) (local.get $Ho)))
              (local.set $oh (i32.sub (local.get $r0) (i32.mul (local.get $n) (local.get $Ho))))
              (local.set $r (local.get $r0))
              (block $rDone (loop $rLoop
                (br_if $rDone (i32.ge_u (local.get $r) (local.get $r1)))
                (local.set $ih (i32.sub (i32.add (i32.mul (local.get $oh) (local.get $sh)) (local.get $kh)) (local.get $top)))
                (if (i32.lt_u (local.get $ih) (local.get $H)) (then
                  ;; px = x + ((((n·H + ih)·W + lo·sw + kw − left)·C + 4·cb)·4
                  (local.set $px (i32.add (local.get $x) (i32.shl
                    (i32.add
                      (i32.mul
                        (i32.sub
                          (i32.add
                            (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (local.get $H)) (local.get $ih)) (local.get $W))
                                     (i32.mul (local.get $lo) (local.get $sw)))
                            (local.get $kw))
                          (local.get $left))
                        (local.get $C))
                      (i32.shl (local.get $cb) (i32.const 2)))
                    (i32.const 2))))
                  ;; pd = dy + ((r·Wo + lo)·Co + 8·ob)·4
                  (local.set $pd (i32.add (local.get $dy) (i32.shl
                    (i32.add (i32.mul (i32.add (i32.mul (local.get $r) (local.get $Wo)) (local.get $lo)) (local.get $Co))
                             (i32.shl (local.get $ob) (i32.const 3)))
                    (i32.const 2))))
                  ;; two pixels per iteration (fewer loop back-edges and their interrupt checks), then an odd last one
                  (local.set $k (local.get $cnt))
                  (block $kDone (loop $kLoop
                    (br_if $kDone (i32.lt_u (local.get $k) (i32.const 2)))
                    (local.set $px2 (i32.add (local.get $px) (local.get $xStep)))
                    (local.set $pd2 (i32.add (local.get $pd) (local.get $rowB)))
                    (local.set $d0 (v128.load offset=0 (local.get $pd)))
                    (local.set $d1 (v128.load offset=16 (local.get $pd)))
                    (local.set $s (v128.load32_splat offset=0 (local.get $px)))
                    (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $s) (local.get $d0))))
                    (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $s) (local.get $d1))))
                    (local.set $s (v128.load32_splat offset=4 (local.get $px)))
                    (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $s) (local.get $d0))))
                    (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $s) (local.get $d1))))
                    (local.set $s (v128.load32_splat offset=8 (local.get $px)))
                    (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $s) (local.get $d0))))
                    (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $s) (local.get $d1))))
                    (local.set $s (v128.load32_splat offset=12 (local.get $px)))
                    (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $s) (local.get $d0))))
                    (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $s) (local.get $d1))))
                    (local.set $d0 (v128.load offset=0 (local.get $pd2)))
                    (local.set $d1 (v128.load offset=16 (local.get $pd2)))
                    (local.set $s (v128.load32_splat offset=0 (local.get $px2)))
                    (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $s) (local.get $d0))))
                    (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $s) (local.get $d1))))
                    (local.set $s (v128.load32_splat offset=4 (local.get $px2)))
                    (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $s) (local.get $d0))))
                    (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $s) (local.get $d1))))
                    (local.set $s (v128.load32_splat offset=8 (local.get $px2)))
                    (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $s) (local.get $d0))))
                    (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $s) (local.get $d1))))
                    (local.set $s (v128.load32_splat offset=12 (local.get $px2)))
                    (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $s) (local.get $d0))))
                    (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $s) (local.get $d1))))
                    (local.set $px (i32.add (local.get $px2) (local.get $xStep)))
                    (local.set $pd (i32.add (local.get $pd2) (local.get $rowB)))
                    (local.set $k (i32.sub (local.get $k) (i32.const 2)))
                    (br $kLoop)))
                  (if (local.get $k) (then
                    (local.set $d0 (v128.load offset=0 (local.get $pd)))
                    (local.set $d1 (v128.load offset=16 (local.get $pd)))
                    (local.set $s (v128.load32_splat offset=0 (local.get $px)))
                    (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $s) (local.get $d0))))
                    (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $s) (local.get $d1))))
                    (local.set $s (v128.load32_splat offset=4 (local.get $px)))
                    (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $s) (local.get $d0))))
                    (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $s) (local.get $d1))))
                    (local.set $s (v128.load32_splat offset=8 (local.get $px)))
                    (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $s) (local.get $d0))))
                    (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $s) (local.get $d1))))
                    (local.set $s (v128.load32_splat offset=12 (local.get $px)))
                    (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $s) (local.get $d0))))
                    (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $s) (local.get $d1))))
                  ))
                ))
                (local.set $r (i32.add (local.get $r) (i32.const 1)))
                (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
                (if (i32.eq (local.get $oh) (local.get $Ho)) (then
                  (local.set $oh (i32.const 0))
                  (local.set $n (i32.add (local.get $n) (i32.const 1)))))
                (br $rLoop)))
              (v128.store offset=0 (local.get $o) (local.get $c00))
              (v128.store offset=16 (local.get $o) (local.get $c01))
              (local.set $o (i32.add (local.get $o) (local.get $rowB)))
              (v128.store offset=0 (local.get $o) (local.get $c10))
              (v128.store offset=16 (local.get $o) (local.get $c11))
              (local.set $o (i32.add (local.get $o) (local.get $rowB)))
              (v128.store offset=0 (local.get $o) (local.get $c20))
              (v128.store offset=16 (local.get $o) (local.get $c21))
              (local.set $o (i32.add (local.get $o) (local.get $rowB)))
              (v128.store offset=0 (local.get $o) (local.get $c30))
              (v128.store offset=16 (local.get $o) (local.get $c31))
              (local.set $ob (i32.add (local.get $ob) (i32.const 1)))
              (br $obLoop)))
            (local.set $cb (i32.add (local.get $cb) (i32.const 1)))
            (br $cbLoop)))
        ))
        (local.set $kw (i32.add (local.get $kw) (i32.const 1)))
        (br $kwLoop)))
      (local.set $kh (i32.add (local.get $kh) (i32.const 1)))
      (br $khLoop)))
  )
  ;; The ceiling of this kind of code on the machine: iters × 48 multiply-adds on 4 lanes from registers
  ;; (twelve independent accumulators hide the add latency), written to out so nothing is optimised away.
  ;; bench/roofline.ts times it to bound what any wasm-SIMD convolution can reach here.
  (func (export "peak_macs") (param $iters i32) (param $out i32)
    (local $a v128) (local $b v128)
    (local $q0 v128) (local $q1 v128) (local $q2 v128) (local $q3 v128) (local $q4 v128) (local $q5 v128)
    (local $q6 v128) (local $q7 v128) (local $q8 v128) (local $q9 v128) (local $q10 v128) (local $q11 v128)
    (local.set $a (v128.const f32x4 1.0000001 0.9999999 1.0000002 0.9999998))
    (local.set $b (v128.const f32x4 0.5 0.25 0.125 0.0625))
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $iters)))
      (local.set $q0 (f32x4.add (local.get $q0) (f32x4.mul (local.get $a) (local.get $b))))
      (local.set $q1 (f32x4.add (local.get $q1) (f32x4.mul (local.get $b) (local.get $a))))
      (local.set $q2 (f32x4.add (local.get $q2) (f32x4.mul (local.get $a) (local.get $b))))
      (local.set $q3 (f32x4.add (local.get $q3) (f32x4.mul (local.get $b) (local.get $a))))
      (local.set $q4 (f32x4.add (local.get $q4) (f32x4.mul (local.get $a) (local.get $b))))
      (local.set $q5 (f32x4.add (local.get $q5) (f32x4.mul (local.get $b) (local.get $a))))
      (local.set $q6 (f32x4.add (local.get $q6) (f32x4.mul (local.get $a) (local.get $b))))
      (local.set $q7 (f32x4.add (local.get $q7) (f32x4.mul (local.get $b) (local.get $a))))
      (local.set $q8 (f32x4.add (local.get $q8) (f32x4.mul (local.get $a) (local.get $b))))
      (local.set $q9 (f32x4.add (local.get $q9) (f32x4.mul (local.get $b) (local.get $a))))
      (local.set $q10 (f32x4.add (local.get $q10) (f32x4.mul (local.get $a) (local.get $b))))
      (local.set $q11 (f32x4.add (local.get $q11) (f32x4.mul (local.get $b) (local.get $a))))
      (local.set $iters (i32.sub (local.get $iters) (i32.const 1)))
      (br $l)))
    (v128.store offset=0 (local.get $out) (local.get $q0))
    (v128.store offset=16 (local.get $out) (local.get $q1))
    (v128.store offset=32 (local.get $out) (local.get $q2))
    (v128.store offset=48 (local.get $out) (local.get $q3))
    (v128.store offset=64 (local.get $out) (local.get $q4))
    (v128.store offset=80 (local.get $out) (local.get $q5))
    (v128.store offset=96 (local.get $out) (local.get $q6))
    (v128.store offset=112 (local.get $out) (local.get $q7))
    (v128.store offset=128 (local.get $out) (local.get $q8))
    (v128.store offset=144 (local.get $out) (local.get $q9))
    (v128.store offset=160 (local.get $out) (local.get $q10))
    (v128.store offset=176 (local.get $out) (local.get $q11))
  )
)
