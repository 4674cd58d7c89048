;; restic's Rabin chunker, the hot loop of every backup, in WebAssembly: 64-bit integer operations
;; are native here, where JavaScript has to split the 53-bit digest into two 32-bit halves.
;; The algorithm is exactly that of chunker.ts (the reference implementation, documented there).
;;
;; Memory layout: [0, 2048) out table, [2048, 4096) mod table (256 little-endian u64 each, filled
;; by the host), [4096, 4160) the 64-byte window, from 65536 the host's data.
(module
  (memory (export "memory") 1)
  (global $digest (mut i64) (i64.const 0))
  (global $wpos (mut i32) (i32.const 0))
  (global $count (mut i32) (i32.const 0))
  (global $pre (mut i32) (i32.const 0))
  (global $min (mut i32) (i32.const 524288))
  (global $max (mut i32) (i32.const 8388608))

  (func $slide (param $b i32)
    (local $digest i64)
    (local $idx i32)
    (local.set $digest
      (i64.xor (global.get $digest)
        (i64.load (i32.shl (i32.load8_u offset=4096 (global.get $wpos)) (i32.const 3)))))
    (i32.store8 offset=4096 (global.get $wpos) (local.get $b))
    (global.set $wpos (i32.and (i32.add (global.get $wpos) (i32.const 1)) (i32.const 63)))
    (local.set $idx (i32.wrap_i64 (i64.shr_u (local.get $digest) (i64.const 45))))
    (local.set $digest (i64.or (i64.shl (local.get $digest) (i64.const 8)) (i64.extend_i32_u (local.get $b))))
    (global.set $digest
      (i64.xor (local.get $digest) (i64.load offset=2048 (i32.shl (local.get $idx) (i32.const 3))))))

  (func $reset (export "reset")
    (memory.fill (i32.const 4096) (i32.const 0) (i32.const 64))
    (global.set $wpos (i32.const 0))
    (global.set $digest (i64.const 0))
    (call $slide (i32.const 1))
    (global.set $count (i32.const 0))
    (global.set $pre (i32.sub (global.get $min) (i32.const 64))))

  (func (export "setSizes") (param $min i32) (param $max i32)
    (global.set $min (local.get $min))
    (global.set $max (local.get $max)))

;; Feed bytes [pos, end) of memory; returns the address just past the chunk's end if it ends
  ;; here (the state is then reset for the next chunk), or -1.
  ;;
  ;; Once a chunk has had 64 bytes hashed, the byte leaving the window is simply the one 64 bytes
  ;; back in memory, so the main loop reads it from there instead of keeping the window: the caller
  ;; must keep the bytes of the current chunk contiguous and in place relative to `pos` across calls
  ;; (it may move them, all together, between calls).
  (func (export "next") (param $pos i32) (param $end i32) (result i32)
    (local $n i32)
    (local $digest i64)
    (local $count i32)
    (local $b i32)
    (local $idx i32)
    (local $idx0 i32)
    (local $idx1 i32)
    (local $idx2 i32)
    (local $idx3 i32)
    (local $count0 i32)
    (local $base i32)
    (local $limit i32)
    (local $q i32)
    (local $r i32)
    (local $stop i32)
    (local $d1 i64)
    (local $d2 i64)
    (local $d3 i64)
    (local $hit1 i32)
    (local $hit2 i32)
    (local $hit3 i32)
    (if (i32.gt_s (global.get $pre) (i32.const 0))
      (then
        (local.set $n (i32.sub (local.get $end) (local.get $pos)))
        (if (i32.gt_s (global.get $pre) (local.get $n))
          (then
            (global.set $pre (i32.sub (global.get $pre) (local.get $n)))
            (global.set $count (i32.add (global.get $count) (local.get $n)))
            (return (i32.const -1))))
        (local.set $pos (i32.add (local.get $pos) (global.get $pre)))
        (global.set $count (i32.add (global.get $count) (global.get $pre)))
        (global.set $pre (i32.const 0))))
    ;; The first 64 hashed bytes of a chunk: the window holds what leaves it; no cut yet.
    (block $filled
      (loop $window
        (br_if $filled (i32.ge_u (global.get $count) (global.get $min)))
        (if (i32.ge_u (local.get $pos) (local.get $end)) (then (return (i32.const -1))))
        (call $slide (i32.load8_u (local.get $pos)))
        (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
        (global.set $count (i32.add (global.get $count) (i32.const 1)))
        (if (i32.ge_u (global.get $count) (global.get $min))
          (then
            (if (i32.or
                  (i64.eqz (i64.and (global.get $digest) (i64.const 0xfffff)))
                  (i32.ge_u (global.get $count) (global.get $max)))
              (then
                (call $reset)
                (return (local.get $pos))))))
        (br $window)))
    ;; From here every position may end the chunk, and the digest is a function of the last 64 bytes
    ;; alone (what was hashed before them has been slid out). The digest's chain — a table lookup
    ;; indexed by the previous digest — allows about one byte per load latency, so where at least 4
    ;; blocks of 32 KiB remain the loop hashes 4 consecutive blocks at once, one lane each (lanes
    ;; after the first warm up their digest on the 64 bytes before their block). The first lane's cut
    ;; wins; else the earliest cut of the next lanes, in order; else all blocks are done and the last
    ;; lane's digest carries on. Work past a cut is wasted, at most 3 blocks per chunk.
    (local.set $digest (global.get $digest))
    (local.set $count0 (global.get $count))
    (local.set $base (local.get $pos))
    (local.set $limit (i32.add (local.get $pos) (i32.sub (global.get $max) (local.get $count0))))
    (if (i32.gt_u (local.get $limit) (local.get $end)) (then (local.set $limit (local.get $end))))
    (block $lanesDone
      (loop $lanes
        (br_if $lanesDone (i32.lt_u (i32.sub (local.get $limit) (local.get $pos)) (i32.const 131072)))
        (local.set $d1 (i64.const 0))
        (local.set $r (i32.add (local.get $pos) (i32.const 32704)))
        (local.set $q (i32.add (local.get $pos) (i32.const 32768)))
        (loop $warm1
          (local.set $idx0 (i32.wrap_i64 (i64.shr_u (local.get $d1) (i64.const 45))))
          (local.set $d1
            (i64.xor
              (i64.or (i64.shl (local.get $d1) (i64.const 8)) (i64.load8_u (local.get $r)))
              (i64.load offset=2048 (i32.shl (local.get $idx0) (i32.const 3)))))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br_if $warm1 (i32.lt_u (local.get $r) (local.get $q))))
        (local.set $hit1 (i32.const 0))
        (local.set $d2 (i64.const 0))
        (local.set $r (i32.add (local.get $pos) (i32.const 65472)))
        (local.set $q (i32.add (local.get $pos) (i32.const 65536)))
        (loop $warm2
          (local.set $idx0 (i32.wrap_i64 (i64.shr_u (local.get $d2) (i64.const 45))))
          (local.set $d2
            (i64.xor
              (i64.or (i64.shl (local.get $d2) (i64.const 8)) (i64.load8_u (local.get $r)))
              (i64.load offset=2048 (i32.shl (local.get $idx0) (i32.const 3)))))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br_if $warm2 (i32.lt_u (local.get $r) (local.get $q))))
        (local.set $hit2 (i32.const 0))
        (local.set $d3 (i64.const 0))
        (local.set $r (i32.add (local.get $pos) (i32.const 98240)))
        (local.set $q (i32.add (local.get $pos) (i32.const 98304)))
        (loop $warm3
          (local.set $idx0 (i32.wrap_i64 (i64.shr_u (local.get $d3) (i64.const 45))))
          (local.set $d3
            (i64.xor
              (i64.or (i64.shl (local.get $d3) (i64.const 8)) (i64.load8_u (local.get $r)))
              (i64.load offset=2048 (i32.shl (local.get $idx0) (i32.const 3)))))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br_if $warm3 (i32.lt_u (local.get $r) (local.get $q))))
        (local.set $hit3 (i32.const 0))
        ;; $r trails the first lane by 64 bytes: its new byte is at r+64, its outgoing one at r; lane k's are k blocks on.
        (local.set $r (i32.sub (local.get $pos) (i32.const 64)))
        (local.set $stop (i32.add (local.get $pos) (i32.const 32704)))
        (loop $all
          (local.set $digest (i64.xor (local.get $digest) (i64.load (i32.shl (i32.load8_u (local.get $r)) (i32.const 3)))))
          (local.set $d1 (i64.xor (local.get $d1) (i64.load (i32.shl (i32.load8_u offset=32768 (local.get $r)) (i32.const 3)))))
          (local.set $d2 (i64.xor (local.get $d2) (i64.load (i32.shl (i32.load8_u offset=65536 (local.get $r)) (i32.const 3)))))
          (local.set $d3 (i64.xor (local.get $d3) (i64.load (i32.shl (i32.load8_u offset=98304 (local.get $r)) (i32.const 3)))))
          (local.set $idx0 (i32.wrap_i64 (i64.shr_u (local.get $digest) (i64.const 45))))
          (local.set $idx1 (i32.wrap_i64 (i64.shr_u (local.get $d1) (i64.const 45))))
          (local.set $idx2 (i32.wrap_i64 (i64.shr_u (local.get $d2) (i64.const 45))))
          (local.set $idx3 (i32.wrap_i64 (i64.shr_u (local.get $d3) (i64.const 45))))
          (local.set $digest
            (i64.xor
              (i64.or (i64.shl (local.get $digest) (i64.const 8)) (i64.load8_u offset=64 (local.get $r)))
              (i64.load offset=2048 (i32.shl (local.get $idx0) (i32.const 3)))))
          (local.set $d1
            (i64.xor
              (i64.or (i64.shl (local.get $d1) (i64.const 8)) (i64.load8_u offset=32832 (local.get $r)))
              (i64.load offset=2048 (i32.shl (local.get $idx1) (i32.const 3)))))
          (local.set $d2
            (i64.xor
              (i64.or (i64.shl (local.get $d2) (i64.const 8)) (i64.load8_u offset=65600 (local.get $r)))
              (i64.load offset=2048 (i32.shl (local.get $idx2) (i32.const 3)))))
          (local.set $d3
            (i64.xor
              (i64.or (i64.shl (local.get $d3) (i64.const 8)) (i64.load8_u offset=98368 (local.get $r)))
              (i64.load offset=2048 (i32.shl (local.get $idx3) (i32.const 3)))))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (if (i64.eqz (i64.and (local.get $digest) (i64.const 0xfffff)))
            (then
              (call $reset)
              (return (i32.add (local.get $r) (i32.const 64)))))
          (if (i32.or (i32.or (i64.eqz (i64.and (local.get $d1) (i64.const 0xfffff))) (i64.eqz (i64.and (local.get $d2) (i64.const 0xfffff)))) (i64.eqz (i64.and (local.get $d3) (i64.const 0xfffff))))
            (then
              (if (i32.and (i64.eqz (i64.and (local.get $d1) (i64.const 0xfffff))) (i32.eqz (local.get $hit1)))
                (then (local.set $hit1 (i32.add (local.get $r) (i32.const 32832)))))
              (if (i32.and (i64.eqz (i64.and (local.get $d2) (i64.const 0xfffff))) (i32.eqz (local.get $hit2)))
                (then (local.set $hit2 (i32.add (local.get $r) (i32.const 65600)))))
              (if (i32.and (i64.eqz (i64.and (local.get $d3) (i64.const 0xfffff))) (i32.eqz (local.get $hit3)))
                (then (local.set $hit3 (i32.add (local.get $r) (i32.const 98368)))))))
          (br_if $all (i32.lt_u (local.get $r) (local.get $stop))))
        (if (local.get $hit1)
          (then
            (call $reset)
            (return (local.get $hit1))))
        (if (local.get $hit2)
          (then
            (call $reset)
            (return (local.get $hit2))))
        (if (local.get $hit3)
          (then
            (call $reset)
            (return (local.get $hit3))))
        (local.set $digest (local.get $d3))
        (local.set $pos (i32.add (local.get $pos) (i32.const 131072)))
        (br $lanes)))
    (block $done
      (loop $bytes
        (br_if $done (i32.ge_u (local.get $pos) (local.get $limit)))
        (local.set $b (i32.load8_u (local.get $pos)))
        (local.set $digest
          (i64.xor (local.get $digest)
            (i64.load (i32.shl (i32.load8_u (i32.sub (local.get $pos) (i32.const 64))) (i32.const 3)))))
        (local.set $idx (i32.wrap_i64 (i64.shr_u (local.get $digest) (i64.const 45))))
        (local.set $digest
          (i64.xor
            (i64.or (i64.shl (local.get $digest) (i64.const 8)) (i64.extend_i32_u (local.get $b)))
            (i64.load offset=2048 (i32.shl (local.get $idx) (i32.const 3)))))
        (local.set $pos (i32.add (local.get $pos) (i32.const 1)))
        (if (i64.eqz (i64.and (local.get $digest) (i64.const 0xfffff)))
          (then
            (call $reset)
            (return (local.get $pos))))
        (br $bytes)))
    (local.set $count (i32.add (local.get $count0) (i32.sub (local.get $pos) (local.get $base))))
    (if (i32.ge_u (local.get $count) (global.get $max))
      (then
        (call $reset)
        (return (local.get $pos))))
    (global.set $digest (local.get $digest))
    (global.set $count (local.get $count))
    (i32.const -1)))
