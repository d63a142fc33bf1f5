-- Typed arrays, ArrayBuffer and SharedArrayBuffer (API.md "Shared memory").
local ffi = require('ffi')

local function err_of(fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, 'expected an error')
  return e
end

describe('SharedArrayBuffer and ArrayBuffer', function()
  it('allocates the requested number of zeroed bytes', function()
    local sab = SharedArrayBuffer(12)
    assert.are.equal(12, sab.byteLength)
    local v = Uint8Array(sab)
    for i = 0, 11 do assert.are.equal(0, v[i]) end
  end)

  it('is callable and has .new', function()
    assert.are.equal(8, ArrayBuffer.new(8).byteLength)
    assert.are.equal(8, SharedArrayBuffer.new(8).byteLength)
  end)

  it('refuses a negative or fractional length', function()
    assert.are.equal('ERR_OUT_OF_RANGE', err_of(SharedArrayBuffer, -1).code)
    assert.are.equal('ERR_OUT_OF_RANGE', err_of(ArrayBuffer, 1.5).code)
  end)

  it('slices into an independent copy', function()
    local ab = ArrayBuffer(8)
    Uint8Array(ab)[2] = 42
    local part = ab:slice(2, 6)
    assert.are.equal(4, part.byteLength)
    Uint8Array(ab)[2] = 1
    assert.are.equal(42, Uint8Array(part)[0])
  end)

  it('keeps its memory alive while a view still uses it', function()
    local v = Int32Array(SharedArrayBuffer(4096))
    v[1023] = 77
    collectgarbage(); collectgarbage()
    assert.are.equal(77, v[1023])
    assert.are.equal(4096, v.buffer.byteLength)
  end)
end)

describe('typed array views', function()
  it('index from 0 and report their length with # and .length', function()
    local v = Int32Array(SharedArrayBuffer(16))
    v[0], v[3] = 5, -7
    assert.are.equal(5, v[0])
    assert.are.equal(-7, v[3])
    assert.are.equal(4, #v)
    assert.are.equal(4, v.length)
    assert.are.equal(16, v.byteLength)
  end)

  it('return nil when reading out of range', function()
    local v = Int16Array(3)
    assert.is_nil(v[3])
    assert.is_nil(v[-1])
  end)

  it('raise when writing out of range', function()
    local v = Float64Array(2)
    local e = err_of(function() v[2] = 1 end)
    assert.are.equal('ERR_OUT_OF_RANGE', e.code)
    assert.are.equal('ERR_OUT_OF_RANGE', err_of(function() v[-1] = 1 end).code)
  end)

  it('see each other\'s writes when they share a buffer', function()
    local sab = SharedArrayBuffer(8)
    local a, b = Int32Array(sab), Uint8Array(sab)
    a[1] = 0x01020304
    assert.are.equal(4, b[4]) -- little-endian
    assert.are.equal(1, b[7])
  end)

  it('start at a byte offset and take an explicit length', function()
    local sab = SharedArrayBuffer(16)
    local v = Int32Array(sab, 4, 2)
    assert.are.equal(2, #v)
    assert.are.equal(4, v.byteOffset)
    v[0] = 9
    assert.are.equal(9, Int32Array(sab)[1])
  end)

  it('refuse a misaligned offset or a length past the end', function()
    local sab = SharedArrayBuffer(16)
    assert.are.equal('ERR_OUT_OF_RANGE', err_of(Int32Array, sab, 2).code)
    assert.are.equal('ERR_OUT_OF_RANGE', err_of(Int32Array, sab, 8, 3).code)
    assert.are.equal('ERR_OUT_OF_RANGE', err_of(Float64Array, SharedArrayBuffer(12)).code)
  end)

  it('allocate a private ArrayBuffer when given a length', function()
    local v = Uint16Array(5)
    assert.are.equal(5, #v)
    assert.are.equal(10, v.buffer.byteLength)
    assert.is_false(v.buffer == SharedArrayBuffer(10))
  end)

  it('are built from a Lua array, .new and .from', function()
    assert.are.same({ 1, 2, 3 }, Int8Array({ 1, 2, 3 }):toTable())
    assert.are.same({ 4, 5 }, Int8Array.new({ 4, 5 }):toTable())
    assert.are.same({ 6 }, Uint32Array.from({ 6 }):toTable())
    assert.are.same({ 7, 8 }, Uint32Array.of(7, 8):toTable())
  end)

  it('copy and convert another view', function()
    local f = Float64Array({ 1.75, -2.5, 300 })
    assert.are.same({ 1, -2, 300 }, Int32Array(f):toTable())
    assert.are.same({ 1, 254, 44 }, Uint8Array(Int32Array(f)):toTable())
  end)

  it('wrap integers like JavaScript', function()
    local u8, i8 = Uint8Array(1), Int8Array(1)
    u8[0], i8[0] = 300, 200
    assert.are.equal(44, u8[0])
    assert.are.equal(-56, i8[0])
    local u32 = Uint32Array(1)
    u32[0] = -1
    assert.are.equal(4294967295, u32[0])
  end)

  it('store floats at their precision', function()
    local f32, f64 = Float32Array(1), Float64Array(1)
    f32[0], f64[0] = 0.1, 0.1
    assert.are_not.equal(0.1, f32[0])
    assert.is_true(math.abs(f32[0] - 0.1) < 1e-7)
    assert.are.equal(0.1, f64[0])
  end)

  it('hold 64-bit integers exactly in BigInt64Array', function()
    local v = BigInt64Array(2)
    v[0] = 0x7fffffffffffffffLL
    v[1] = -1
    assert.is_true(v[0] == 0x7fffffffffffffffLL)
    assert.is_true(ffi.istype('int64_t', v[1]))
    local u = BigUint64Array(1)
    u[0] = 0xffffffffffffffffULL
    assert.is_true(u[0] == 0xffffffffffffffffULL)
  end)

  it('expose the buffer they view', function()
    local sab = SharedArrayBuffer(8)
    local v = Int32Array(sab)
    assert.is_true(v.buffer == sab)
    assert.are.equal(4, Int32Array.BYTES_PER_ELEMENT)
  end)

  it('subarray shares memory, slice copies', function()
    local v = Int32Array({ 1, 2, 3, 4, 5 })
    local sub, cp = v:subarray(1, 3), v:slice(1, 3)
    assert.are.same({ 2, 3 }, sub:toTable())
    assert.are.equal(4, sub.byteOffset)
    v[1] = 20
    assert.are.equal(20, sub[0])
    assert.are.equal(2, cp[0])
    assert.are.same({ 4, 5 }, v:subarray(-2):toTable())
  end)

  it('fill a range and return themselves', function()
    local v = Int16Array(5)
    assert.are.equal(v, v:fill(3, 1, 4))
    assert.are.same({ 0, 3, 3, 3, 0 }, v:toTable())
  end)

  it('set from a table or another view at an offset', function()
    local v = Int32Array(5)
    v:set({ 1, 2 }, 1)
    v:set(Uint8Array({ 9, 8 }), 3)
    assert.are.same({ 0, 1, 2, 9, 8 }, v:toTable())
    assert.are.equal('ERR_OUT_OF_RANGE', err_of(v.set, v, { 1, 2 }, 4).code)
  end)

  it('set handles overlapping views of one buffer', function()
    local v = Int32Array({ 1, 2, 3, 4 })
    v:set(v:subarray(0, 3), 1)
    assert.are.same({ 1, 1, 2, 3 }, v:toTable())
  end)

  it('print like Node', function()
    assert.are.equal('Int32Array(2) [ 1, 2 ]', tostring(Int32Array({ 1, 2 })))
  end)

  it('are recognised by ArrayBuffer.isView', function()
    assert.is_true(ArrayBuffer.isView(Int8Array(1)))
    assert.is_false(ArrayBuffer.isView(ArrayBuffer(1)))
  end)
end)

describe('detached ArrayBuffers', function()
  local clone = require('native.clone')

  it('have length 0 and raise on access after being transferred', function()
    local ab = ArrayBuffer(8)
    local v = Uint8Array(ab)
    v[0] = 1
    clone.encode(v, { ab })
    assert.are.equal(0, ab.byteLength)
    assert.are.equal(0, #v)
    assert.are.equal(0, v.length)
    assert.is_true(ab.detached)
    assert.are.equal('ERR_INVALID_STATE', err_of(function() return v[0] end).code)
    assert.are.equal('ERR_INVALID_STATE', err_of(function() v[0] = 1 end).code)
    assert.are.equal('ERR_INVALID_STATE', err_of(Int32Array, ab).code)
  end)
end)
