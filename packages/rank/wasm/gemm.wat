;; f32x4 SIMD kernel for out += Aᵀ·B over one block of kb shared rows.
;;
;; A and B are packed by the caller (src/gemm.ts) into panels of 8 columns: element (k, c) of panel q
;; lives at base + (q*kb + k)*32 + c*4, so one row of a panel is one pair of v128 loads.
;; out is row-major f32 with leading dimension ldo (floats); the tile for A-columns i..i+3 and
;; B-columns j..j+7 is read, accumulated over the kb rows and written back, so the caller can run
;; several blocks before flushing the f32 partial sums into its float64 matrix.
;; sym = 1 computes only tiles with B-panel >= A-panel (the upper triangle of a Gram matrix, A = B).
;; Baseline WebAssembly SIMD has no fused multiply-add, hence mul then add.
;; The memory is imported; the build also emits a variant importing a shared memory, on which a worker thread
;; runs half of the tiles (the unshared one serves where no helper can start, e.g. browsers).
(module
  (import "env" "memory" (memory 1))
  (func (export "gemm_tn")
    (param $a i32) (param $b i32) (param $kb i32) (param $npa i32) (param $npb i32)
    (param $out i32) (param $ldo i32) (param $sym i32)
    (local $p i32) (local $h i32) (local $q i32) (local $k i32)
    (local $ap i32) (local $bp i32) (local $o i32) (local $rowBytes i32) (local $panelBytes i32)
    (local $s v128) (local $b0 v128) (local $b1 v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local.set $rowBytes (i32.shl (local.get $ldo) (i32.const 2)))
    (local.set $panelBytes (i32.shl (local.get $kb) (i32.const 5)))
    (local.set $p (i32.const 0))
    (block $pDone (loop $pLoop
      (br_if $pDone (i32.ge_u (local.get $p) (local.get $npa)))
      (local.set $h (i32.const 0))
      (block $hDone (loop $hLoop
        (br_if $hDone (i32.ge_u (local.get $h) (i32.const 2)))
        (local.set $q (select (local.get $p) (i32.const 0) (local.get $sym)))
        (block $qDone (loop $qLoop
          (br_if $qDone (i32.ge_u (local.get $q) (local.get $npb)))
          ;; o = out + ((p*8 + h*4) * ldo + q*8) * 4
          (local.set $o (i32.add (local.get $out)
            (i32.add
              (i32.mul (i32.add (i32.shl (local.get $p) (i32.const 3)) (i32.shl (local.get $h) (i32.const 2)))
                       (local.get $rowBytes))
              (i32.shl (local.get $q) (i32.const 5)))))
          (local.set $c00 (v128.load offset=0 (local.get $o)))
          (local.set $c01 (v128.load offset=16 (local.get $o)))
          (local.set $o (i32.add (local.get $o) (local.get $rowBytes)))
          (local.set $c10 (v128.load offset=0 (local.get $o)))
          (local.set $c11 (v128.load offset=16 (local.get $o)))
          (local.set $o (i32.add (local.get $o) (local.get $rowBytes)))
          (local.set $c20 (v128.load offset=0 (local.get $o)))
          (local.set $c21 (v128.load offset=16 (local.get $o)))
          (local.set $o (i32.add (local.get $o) (local.get $rowBytes)))
          (local.set $c30 (v128.load offset=0 (local.get $o)))
          (local.set $c31 (v128.load offset=16 (local.get $o)))
          (local.set $ap (i32.add (i32.add (local.get $a) (i32.mul (local.get $p) (local.get $panelBytes)))
                                  (i32.shl (local.get $h) (i32.const 4))))
          (local.set $bp (i32.add (local.get $b) (i32.mul (local.get $q) (local.get $panelBytes))))
          ;; One row per iteration. Unrolling two (fewer back-edges) was 1.7x slower: TurboFan hoists both rows'
          ;; loads to the top of the body, and 12 loaded values plus 8 accumulators exceed x64's 16 xmm registers,
          ;; so half of the accumulators were spilled to the stack every iteration (seen in `perf` disassembly).
          (local.set $k (local.get $kb))
          (block $kDone (loop $kLoop
            (br_if $kDone (i32.eqz (local.get $k)))
            (local.set $b0 (v128.load offset=0 (local.get $bp)))
            (local.set $b1 (v128.load offset=16 (local.get $bp)))
            (local.set $s (v128.load32_splat offset=0 (local.get $ap)))
            (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $s) (local.get $b0))))
            (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $s) (local.get $b1))))
            (local.set $s (v128.load32_splat offset=4 (local.get $ap)))
            (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $s) (local.get $b0))))
            (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $s) (local.get $b1))))
            (local.set $s (v128.load32_splat offset=8 (local.get $ap)))
            (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $s) (local.get $b0))))
            (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $s) (local.get $b1))))
            (local.set $s (v128.load32_splat offset=12 (local.get $ap)))
            (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $s) (local.get $b0))))
            (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $s) (local.get $b1))))
            (local.set $ap (i32.add (local.get $ap) (i32.const 32)))
            (local.set $bp (i32.add (local.get $bp) (i32.const 32)))
            (local.set $k (i32.sub (local.get $k) (i32.const 1)))
            (br $kLoop)))
          (local.set $o (i32.sub (local.get $o) (i32.mul (local.get $rowBytes) (i32.const 3))))
          (v128.store offset=0 (local.get $o) (local.get $c00))
          (v128.store offset=16 (local.get $o) (local.get $c01))
          (local.set $o (i32.add (local.get $o) (local.get $rowBytes)))
          (v128.store offset=0 (local.get $o) (local.get $c10))
          (v128.store offset=16 (local.get $o) (local.get $c11))
          (local.set $o (i32.add (local.get $o) (local.get $rowBytes)))
          (v128.store offset=0 (local.get $o) (local.get $c20))
          (v128.store offset=16 (local.get $o) (local.get $c21))
          (local.set $o (i32.add (local.get $o) (local.get $rowBytes)))
          (v128.store offset=0 (local.get $o) (local.get $c30))
          (v128.store offset=16 (local.get $o) (local.get $c31))
          (local.set $q (i32.add (local.get $q) (i32.const 1)))
          (br $qLoop)))
        (local.set $h (i32.add (local.get $h) (i32.const 1)))
        (br $hLoop)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $pLoop)))
  )
;; Packs kb rows of a row-major f32 block (leading dimension ld floats, a multiple of 8, columns padded
;; with zeros) into the panel layout above, for panels q0..q1-1 only (two threads split the panels), subtracting the
;; per-column shift cs (f32, ld of them) and the per-row shift ks[k] (f32; pass ks = -1 for none), and adds the packed
;; values into colsum (f32, ld). Stores 1 into the i32 at flag if any packed value is NaN or ±Inf (x·0 ≠ 0), so the
;; caller can locate it; never stores 0 (the caller clears it). Panel by panel, so that the packed rows are written
;; in order and each column's sum stays in registers: row by row, the writes jumped between 64 panels 16 KiB apart.
;; Each column's sum still adds its rows in order, so the sums do not depend on the split.
  (func (export "pack_rows")
    (param $raw i32) (param $kb i32) (param $ld i32) (param $cs i32) (param $ks i32) (param $dst i32) (param $colsum i32)
    (param $q0 i32) (param $q1 i32) (param $flag i32)
    (local $k i32) (local $q i32) (local $src i32) (local $out i32) (local $rowBytes i32) (local $sp i32)
    (local $rs v128) (local $v0 v128) (local $v1 v128) (local $bad v128) (local $zero v128)
    (local $cs0 v128) (local $cs1 v128) (local $sum0 v128) (local $sum1 v128)
    (local.set $rowBytes (i32.shl (local.get $ld) (i32.const 2)))
    (local.set $zero (v128.const f32x4 0 0 0 0))
    (local.set $bad (v128.const i32x4 0 0 0 0))
    (local.set $q (local.get $q0))
    (block $qDone (loop $qLoop
      (br_if $qDone (i32.ge_u (local.get $q) (local.get $q1)))
      (local.set $sp (i32.shl (local.get $q) (i32.const 5)))
      (local.set $cs0 (v128.load offset=0 (i32.add (local.get $cs) (local.get $sp))))
      (local.set $cs1 (v128.load offset=16 (i32.add (local.get $cs) (local.get $sp))))
      (local.set $sum0 (v128.load offset=0 (i32.add (local.get $colsum) (local.get $sp))))
      (local.set $sum1 (v128.load offset=16 (i32.add (local.get $colsum) (local.get $sp))))
      (local.set $src (i32.add (local.get $raw) (local.get $sp)))
      (local.set $out (i32.add (local.get $dst) (i32.mul (local.get $q) (i32.shl (local.get $kb) (i32.const 5)))))
      (local.set $k (i32.const 0))
      (block $kDone (loop $kLoop
        (br_if $kDone (i32.ge_u (local.get $k) (local.get $kb)))
        (local.set $rs (if (result v128) (i32.lt_s (local.get $ks) (i32.const 0))
          (then (local.get $zero))
          (else (v128.load32_splat (i32.add (local.get $ks) (i32.shl (local.get $k) (i32.const 2)))))))
        (local.set $v0 (f32x4.sub (f32x4.sub (v128.load offset=0 (local.get $src)) (local.get $cs0)) (local.get $rs)))
        (local.set $v1 (f32x4.sub (f32x4.sub (v128.load offset=16 (local.get $src)) (local.get $cs1)) (local.get $rs)))
        (v128.store offset=0 (local.get $out) (local.get $v0))
        (v128.store offset=16 (local.get $out) (local.get $v1))
        (local.set $sum0 (f32x4.add (local.get $sum0) (local.get $v0)))
        (local.set $sum1 (f32x4.add (local.get $sum1) (local.get $v1)))
        (local.set $bad (v128.or (local.get $bad)
          (v128.or (f32x4.ne (f32x4.mul (local.get $v0) (local.get $zero)) (local.get $zero))
                   (f32x4.ne (f32x4.mul (local.get $v1) (local.get $zero)) (local.get $zero)))))
        (local.set $src (i32.add (local.get $src) (local.get $rowBytes)))
        (local.set $out (i32.add (local.get $out) (i32.const 32)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $kLoop)))
      (v128.store offset=0 (i32.add (local.get $colsum) (local.get $sp)) (local.get $sum0))
      (v128.store offset=16 (i32.add (local.get $colsum) (local.get $sp)) (local.get $sum1))
      (local.set $q (i32.add (local.get $q) (i32.const 1)))
      (br $qLoop)))
    (if (v128.any_true (local.get $bad)) (then (i32.store (local.get $flag) (i32.const 1))))
  )
)
