;; scrypt's ROMix (RFC 7914, section 5) for two independent lanes at once, with WebAssembly SIMD.
;;
;; Why by hand: scrypt's p lanes are independent, but Node's scrypt (OpenSSL) and the npm scrypt
;; packages compute them one after another on one thread and cannot compute a single lane. Spreading
;; lanes over threads needs ROMix alone. And one Salsa20/8 is a chain of dependent vector steps, so
;; a lane alone runs at half OpenSSL's speed here (~80 ms for N=2^15, r=8); two lanes interleaved
;; fill each other's waits (~44 ms per lane, OpenSSL ~42-52). See keys.ts for how it is used.
;;
;; Memory: two regions of 128·r·(N+3) bytes, lane a's at 0 and lane b's right after. In each: X
;; (128·r bytes, the lane's input and, after romix, its output), Y (128·r, scratch), Z (128·r
;; zeros), then V (128·r·N). Blocks are 64-byte Salsa20 states stored with their 16 words in the
;; order 0 5 10 15 4 9 14 3 8 13 2 7 12 1 6 11 (word k holds word 5k mod 16): then each of the four
;; 16-byte rows holds one operand of the four quarter-rounds of a column round, and a row round is
;; a column round after turning rows 1-3 by one, two and three words. The caller reorders words
;; on the way in and out. Word 0 stays in place, so Integerify reads the first word of the last block.
(module
  (memory (export "memory") 1)

  ;; BlockMix_salsa8 of (src xor xsrc) into dst, for lane a and lane b at once; r is the block count.
  (func $blockmix (param $r i32)
      (param $sa i32) (param $xa i32) (param $da i32)
      (param $sb i32) (param $xb i32) (param $db i32)
    (local $i i32) (local $end i32) (local $half i32) (local $o i32) (local $n i32)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $ta v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128) (local $tb v128)
    (local $ia0 v128) (local $ia1 v128) (local $ia2 v128) (local $ia3 v128)
    (local $ib0 v128) (local $ib1 v128) (local $ib2 v128) (local $ib3 v128)
    (local.set $end (i32.shl (local.get $r) (i32.const 7)))
    (local.set $half (i32.shl (local.get $r) (i32.const 6)))
    ;; The running state starts as the last 64-byte block.
    (local.set $o (i32.sub (local.get $end) (i32.const 64)))
    (local.set $a0 (v128.xor (v128.load offset=0 (i32.add (local.get $sa) (local.get $o))) (v128.load offset=0 (i32.add (local.get $xa) (local.get $o)))))
    (local.set $a1 (v128.xor (v128.load offset=16 (i32.add (local.get $sa) (local.get $o))) (v128.load offset=16 (i32.add (local.get $xa) (local.get $o)))))
    (local.set $a2 (v128.xor (v128.load offset=32 (i32.add (local.get $sa) (local.get $o))) (v128.load offset=32 (i32.add (local.get $xa) (local.get $o)))))
    (local.set $a3 (v128.xor (v128.load offset=48 (i32.add (local.get $sa) (local.get $o))) (v128.load offset=48 (i32.add (local.get $xa) (local.get $o)))))
    (local.set $b0 (v128.xor (v128.load offset=0 (i32.add (local.get $sb) (local.get $o))) (v128.load offset=0 (i32.add (local.get $xb) (local.get $o)))))
    (local.set $b1 (v128.xor (v128.load offset=16 (i32.add (local.get $sb) (local.get $o))) (v128.load offset=16 (i32.add (local.get $xb) (local.get $o)))))
    (local.set $b2 (v128.xor (v128.load offset=32 (i32.add (local.get $sb) (local.get $o))) (v128.load offset=32 (i32.add (local.get $xb) (local.get $o)))))
    (local.set $b3 (v128.xor (v128.load offset=48 (i32.add (local.get $sb) (local.get $o))) (v128.load offset=48 (i32.add (local.get $xb) (local.get $o)))))
    (local.set $i (i32.const 0))
    (loop $blocks
      ;; state ^= block i
      (local.set $a0 (v128.xor (local.get $a0) (v128.xor (v128.load offset=0 (i32.add (local.get $sa) (local.get $i))) (v128.load offset=0 (i32.add (local.get $xa) (local.get $i))))))
      (local.set $a1 (v128.xor (local.get $a1) (v128.xor (v128.load offset=16 (i32.add (local.get $sa) (local.get $i))) (v128.load offset=16 (i32.add (local.get $xa) (local.get $i))))))
      (local.set $a2 (v128.xor (local.get $a2) (v128.xor (v128.load offset=32 (i32.add (local.get $sa) (local.get $i))) (v128.load offset=32 (i32.add (local.get $xa) (local.get $i))))))
      (local.set $a3 (v128.xor (local.get $a3) (v128.xor (v128.load offset=48 (i32.add (local.get $sa) (local.get $i))) (v128.load offset=48 (i32.add (local.get $xa) (local.get $i))))))
      (local.set $b0 (v128.xor (local.get $b0) (v128.xor (v128.load offset=0 (i32.add (local.get $sb) (local.get $i))) (v128.load offset=0 (i32.add (local.get $xb) (local.get $i))))))
      (local.set $b1 (v128.xor (local.get $b1) (v128.xor (v128.load offset=16 (i32.add (local.get $sb) (local.get $i))) (v128.load offset=16 (i32.add (local.get $xb) (local.get $i))))))
      (local.set $b2 (v128.xor (local.get $b2) (v128.xor (v128.load offset=32 (i32.add (local.get $sb) (local.get $i))) (v128.load offset=32 (i32.add (local.get $xb) (local.get $i))))))
      (local.set $b3 (v128.xor (local.get $b3) (v128.xor (v128.load offset=48 (i32.add (local.get $sb) (local.get $i))) (v128.load offset=48 (i32.add (local.get $xb) (local.get $i))))))
      (local.set $ia0 (local.get $a0)) (local.set $ia1 (local.get $a1)) (local.set $ia2 (local.get $a2)) (local.set $ia3 (local.get $a3))
      (local.set $ib0 (local.get $b0)) (local.set $ib1 (local.get $b1)) (local.set $ib2 (local.get $b2)) (local.set $ib3 (local.get $b3))
      ;; Salsa20/8: four double rounds. Each step is row ^= (row' + row'') <<< k, lanes a and b side by side.
      (local.set $n (i32.const 4))
      (loop $rounds
        ;; column round
        (local.set $ta (i32x4.add (local.get $a0) (local.get $a3)))
        (local.set $tb (i32x4.add (local.get $b0) (local.get $b3)))
        (local.set $a1 (v128.xor (local.get $a1) (v128.xor (i32x4.shl (local.get $ta) (i32.const 7)) (i32x4.shr_u (local.get $ta) (i32.const 25)))))
        (local.set $b1 (v128.xor (local.get $b1) (v128.xor (i32x4.shl (local.get $tb) (i32.const 7)) (i32x4.shr_u (local.get $tb) (i32.const 25)))))
        (local.set $ta (i32x4.add (local.get $a1) (local.get $a0)))
        (local.set $tb (i32x4.add (local.get $b1) (local.get $b0)))
        (local.set $a2 (v128.xor (local.get $a2) (v128.xor (i32x4.shl (local.get $ta) (i32.const 9)) (i32x4.shr_u (local.get $ta) (i32.const 23)))))
        (local.set $b2 (v128.xor (local.get $b2) (v128.xor (i32x4.shl (local.get $tb) (i32.const 9)) (i32x4.shr_u (local.get $tb) (i32.const 23)))))
        (local.set $ta (i32x4.add (local.get $a2) (local.get $a1)))
        (local.set $tb (i32x4.add (local.get $b2) (local.get $b1)))
        (local.set $a3 (v128.xor (local.get $a3) (v128.xor (i32x4.shl (local.get $ta) (i32.const 13)) (i32x4.shr_u (local.get $ta) (i32.const 19)))))
        (local.set $b3 (v128.xor (local.get $b3) (v128.xor (i32x4.shl (local.get $tb) (i32.const 13)) (i32x4.shr_u (local.get $tb) (i32.const 19)))))
        (local.set $ta (i32x4.add (local.get $a3) (local.get $a2)))
        (local.set $tb (i32x4.add (local.get $b3) (local.get $b2)))
        (local.set $a0 (v128.xor (local.get $a0) (v128.xor (i32x4.shl (local.get $ta) (i32.const 18)) (i32x4.shr_u (local.get $ta) (i32.const 14)))))
        (local.set $b0 (v128.xor (local.get $b0) (v128.xor (i32x4.shl (local.get $tb) (i32.const 18)) (i32x4.shr_u (local.get $tb) (i32.const 14)))))
        ;; turn rows 1-3 by one, two and three words: the row round's operands line up
        (local.set $a1 (i8x16.shuffle 12 13 14 15 0 1 2 3 4 5 6 7 8 9 10 11 (local.get $a1) (local.get $a1)))
        (local.set $b1 (i8x16.shuffle 12 13 14 15 0 1 2 3 4 5 6 7 8 9 10 11 (local.get $b1) (local.get $b1)))
        (local.set $a2 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a2) (local.get $a2)))
        (local.set $b2 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $b2) (local.get $b2)))
        (local.set $a3 (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 0 1 2 3 (local.get $a3) (local.get $a3)))
        (local.set $b3 (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 0 1 2 3 (local.get $b3) (local.get $b3)))
        ;; row round: rows 1 and 3 trade places
        (local.set $ta (i32x4.add (local.get $a0) (local.get $a1)))
        (local.set $tb (i32x4.add (local.get $b0) (local.get $b1)))
        (local.set $a3 (v128.xor (local.get $a3) (v128.xor (i32x4.shl (local.get $ta) (i32.const 7)) (i32x4.shr_u (local.get $ta) (i32.const 25)))))
        (local.set $b3 (v128.xor (local.get $b3) (v128.xor (i32x4.shl (local.get $tb) (i32.const 7)) (i32x4.shr_u (local.get $tb) (i32.const 25)))))
        (local.set $ta (i32x4.add (local.get $a3) (local.get $a0)))
        (local.set $tb (i32x4.add (local.get $b3) (local.get $b0)))
        (local.set $a2 (v128.xor (local.get $a2) (v128.xor (i32x4.shl (local.get $ta) (i32.const 9)) (i32x4.shr_u (local.get $ta) (i32.const 23)))))
        (local.set $b2 (v128.xor (local.get $b2) (v128.xor (i32x4.shl (local.get $tb) (i32.const 9)) (i32x4.shr_u (local.get $tb) (i32.const 23)))))
        (local.set $ta (i32x4.add (local.get $a2) (local.get $a3)))
        (local.set $tb (i32x4.add (local.get $b2) (local.get $b3)))
        (local.set $a1 (v128.xor (local.get $a1) (v128.xor (i32x4.shl (local.get $ta) (i32.const 13)) (i32x4.shr_u (local.get $ta) (i32.const 19)))))
        (local.set $b1 (v128.xor (local.get $b1) (v128.xor (i32x4.shl (local.get $tb) (i32.const 13)) (i32x4.shr_u (local.get $tb) (i32.const 19)))))
        (local.set $ta (i32x4.add (local.get $a1) (local.get $a2)))
        (local.set $tb (i32x4.add (local.get $b1) (local.get $b2)))
        (local.set $a0 (v128.xor (local.get $a0) (v128.xor (i32x4.shl (local.get $ta) (i32.const 18)) (i32x4.shr_u (local.get $ta) (i32.const 14)))))
        (local.set $b0 (v128.xor (local.get $b0) (v128.xor (i32x4.shl (local.get $tb) (i32.const 18)) (i32x4.shr_u (local.get $tb) (i32.const 14)))))
        ;; and back
        (local.set $a1 (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 0 1 2 3 (local.get $a1) (local.get $a1)))
        (local.set $b1 (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 0 1 2 3 (local.get $b1) (local.get $b1)))
        (local.set $a2 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $a2) (local.get $a2)))
        (local.set $b2 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $b2) (local.get $b2)))
        (local.set $a3 (i8x16.shuffle 12 13 14 15 0 1 2 3 4 5 6 7 8 9 10 11 (local.get $a3) (local.get $a3)))
        (local.set $b3 (i8x16.shuffle 12 13 14 15 0 1 2 3 4 5 6 7 8 9 10 11 (local.get $b3) (local.get $b3)))
        (br_if $rounds (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
      (local.set $a0 (i32x4.add (local.get $a0) (local.get $ia0)))
      (local.set $a1 (i32x4.add (local.get $a1) (local.get $ia1)))
      (local.set $a2 (i32x4.add (local.get $a2) (local.get $ia2)))
      (local.set $a3 (i32x4.add (local.get $a3) (local.get $ia3)))
      (local.set $b0 (i32x4.add (local.get $b0) (local.get $ib0)))
      (local.set $b1 (i32x4.add (local.get $b1) (local.get $ib1)))
      (local.set $b2 (i32x4.add (local.get $b2) (local.get $ib2)))
      (local.set $b3 (i32x4.add (local.get $b3) (local.get $ib3)))
      ;; Output block i goes to slot i/2 when i is even, r + (i-1)/2 when odd.
      (local.set $o (i32.add (i32.shl (i32.shr_u (local.get $i) (i32.const 7)) (i32.const 6))
        (select (local.get $half) (i32.const 0) (i32.and (local.get $i) (i32.const 64)))))
      (v128.store offset=0 (i32.add (local.get $da) (local.get $o)) (local.get $a0))
      (v128.store offset=16 (i32.add (local.get $da) (local.get $o)) (local.get $a1))
      (v128.store offset=32 (i32.add (local.get $da) (local.get $o)) (local.get $a2))
      (v128.store offset=48 (i32.add (local.get $da) (local.get $o)) (local.get $a3))
      (v128.store offset=0 (i32.add (local.get $db) (local.get $o)) (local.get $b0))
      (v128.store offset=16 (i32.add (local.get $db) (local.get $o)) (local.get $b1))
      (v128.store offset=32 (i32.add (local.get $db) (local.get $o)) (local.get $b2))
      (v128.store offset=48 (i32.add (local.get $db) (local.get $o)) (local.get $b3))
      (br_if $blocks (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 64))) (local.get $end)))))

  ;; ROMix of the two lanes in their X areas, N a power of two >= 2. The caller grows the memory
  ;; to 2·128·r·(N+3) bytes.
  (func (export "romix2") (param $r i32) (param $n i32)
    (local $bs i32) (local $b i32) (local $y i32) (local $z i32) (local $v i32)
    (local $i i32) (local $p i32) (local $mask i32) (local $last i32)
    (local.set $bs (i32.shl (local.get $r) (i32.const 7)))
    (local.set $b (i32.mul (local.get $bs) (i32.add (local.get $n) (i32.const 3))))
    (local.set $y (local.get $bs))
    (local.set $z (i32.shl (local.get $bs) (i32.const 1)))
    (local.set $v (i32.mul (local.get $bs) (i32.const 3)))
    (local.set $mask (i32.sub (local.get $n) (i32.const 1)))
    (local.set $last (i32.sub (local.get $bs) (i32.const 64)))
    (memory.fill (local.get $z) (i32.const 0) (local.get $bs))
    (memory.fill (i32.add (local.get $b) (local.get $z)) (i32.const 0) (local.get $bs))
    ;; V[0] = X; V[i] = BlockMix(V[i-1]); X = BlockMix(V[N-1])
    (memory.copy (local.get $v) (i32.const 0) (local.get $bs))
    (memory.copy (i32.add (local.get $b) (local.get $v)) (local.get $b) (local.get $bs))
    (local.set $p (local.get $v))
    (local.set $i (i32.const 1))
    (loop $fill
      (call $blockmix (local.get $r)
        (local.get $p) (local.get $z) (i32.add (local.get $p) (local.get $bs))
        (i32.add (local.get $b) (local.get $p)) (i32.add (local.get $b) (local.get $z)) (i32.add (local.get $b) (i32.add (local.get $p) (local.get $bs))))
      (local.set $p (i32.add (local.get $p) (local.get $bs)))
      (br_if $fill (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1))) (local.get $n))))
    (call $blockmix (local.get $r)
      (local.get $p) (local.get $z) (i32.const 0)
      (i32.add (local.get $b) (local.get $p)) (i32.add (local.get $b) (local.get $z)) (local.get $b))
    ;; N times: X = BlockMix(X xor V[Integerify(X) mod N]), two at a time through Y.
    (local.set $i (i32.const 0))
    (loop $mix
      (call $blockmix (local.get $r)
        (i32.const 0)
        (i32.add (local.get $v) (i32.mul (i32.and (i32.load (local.get $last)) (local.get $mask)) (local.get $bs)))
        (local.get $y)
        (local.get $b)
        (i32.add (local.get $b) (i32.add (local.get $v) (i32.mul (i32.and (i32.load (i32.add (local.get $b) (local.get $last))) (local.get $mask)) (local.get $bs))))
        (i32.add (local.get $b) (local.get $y)))
      (call $blockmix (local.get $r)
        (local.get $y)
        (i32.add (local.get $v) (i32.mul (i32.and (i32.load (i32.add (local.get $y) (local.get $last))) (local.get $mask)) (local.get $bs)))
        (i32.const 0)
        (i32.add (local.get $b) (local.get $y))
        (i32.add (local.get $b) (i32.add (local.get $v) (i32.mul (i32.and (i32.load (i32.add (local.get $b) (i32.add (local.get $y) (local.get $last)))) (local.get $mask)) (local.get $bs))))
        (local.get $b))
      (br_if $mix (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 2))) (local.get $n)))))
)
