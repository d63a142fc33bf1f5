-- zlib: gzip/deflate/raw/brotli over zlib and libbrotli (API.md "zlib").
-- Output is checked by real decoders (gzip -d, brotli -d, Node's zlib) and
-- theirs is decoded by luster.
local zlib = require('zlib')
local crypto = require('crypto')
local cjson = require('cjson')
local run = require('helpers.run')

local function have(cmd) return os.execute('command -v ' .. cmd .. ' >/dev/null 2>&1') == 0 end

local function tmpfile(data)
  local p = os.tmpname()
  if data then
    local f = assert(io.open(p, 'wb'))
    f:write(data)
    f:close()
  end
  return p
end

local function slurp(p)
  local f = assert(io.open(p, 'rb'))
  local s = f:read('*a')
  f:close()
  return s
end

local function raises(code, fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, 'expected ' .. code)
  assert.are.equal(code, type(e) == 'table' and e.code or e)
  return e
end

-- text that compresses, plus every byte value
local bytes = {}
for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
local TEXT = ('The quick brown fox jumps over the lazy dog. '):rep(4000) .. table.concat(bytes)

describe('one-shot compression', function()
  it('round-trips every format with its options', function()
    for _, pair in ipairs {
      { 'gzip', 'gunzip' }, { 'deflate', 'inflate' }, { 'deflateRaw', 'inflateRaw' },
      { 'gzip', 'unzip' }, { 'deflate', 'unzip' }, { 'brotliCompress', 'brotliDecompress' },
    } do
      local c, d = zlib[pair[1] .. 'Sync'], zlib[pair[2] .. 'Sync']
      local packed = c(TEXT)
      assert.is_true(#packed < #TEXT / 10, pair[1])
      assert.are.equal(TEXT, d(packed), pair[1] .. ' -> ' .. pair[2])
      assert.are.equal('', d(c('')))
    end
    for _, level in ipairs { 0, 1, 9 } do
      assert.are.equal(TEXT, zlib.inflateSync(zlib.deflateSync(TEXT, { level = level, memLevel = 9, strategy = zlib.Z_FILTERED })))
    end
    assert.are.equal(TEXT, zlib.inflateRawSync(zlib.deflateRawSync(TEXT, { windowBits = 9 }), { windowBits = 9 }))
    local q1 = zlib.brotliCompressSync(TEXT, { params = { [zlib.constants.BROTLI_PARAM_QUALITY] = 1 } })
    assert.are.equal(TEXT, zlib.brotliDecompressSync(q1))
  end)

  it('uses a preset dictionary', function()
    local dict = 'quick brown fox lazy dog'
    local packed = zlib.deflateSync('the quick brown fox', { dictionary = dict })
    assert.are.equal('the quick brown fox', zlib.inflateSync(packed, { dictionary = dict }))
    raises('Z_NEED_DICT', zlib.inflateSync, packed)
  end)

  it('takes typed arrays and reads concatenated gzip members', function()
    local u8 = Uint8Array(3)
    u8[0], u8[1], u8[2] = 65, 66, 67
    assert.are.equal('ABC', zlib.gunzipSync(zlib.gzipSync(u8)))
    assert.are.equal('onetwo', zlib.gunzipSync(zlib.gzipSync('one') .. zlib.gzipSync('two')))
  end)

  it('runs the callback and promise forms on the threadpool', function()
    local packed = await(zlib.promises.gzip(TEXT, { level = 6 }))
    assert.are.equal(TEXT, zlib.gunzipSync(packed))
    local got = await(Promise.new(function(resolve)
      zlib.brotliCompress(TEXT, function(err, out) resolve({ err = err, out = out }) end)
    end))
    assert.is_nil(got.err)
    assert.are.equal(TEXT, await(zlib.promises.brotliDecompress(got.out)))
    local ok, e = pcall(await, zlib.promises.inflate('not deflate'))
    assert.is_false(ok)
    assert.are.equal('Z_DATA_ERROR', e.code)
  end)

  it('compresses from several worker threads at once', function()
    local Worker = require('worker_threads').Worker
    local done = {}
    for w = 1, 3 do
      done[w] = Promise.new(function(resolve)
        local worker = Worker([[
          local zlib = require('zlib')
          local parentPort = require('worker_threads').parentPort
          local s = ('worker data '):rep(20000)
          local ok = true
          for _ = 1, 4 do
            ok = ok and await(zlib.promises.gunzip(await(zlib.promises.gzip(s)))) == s
            ok = ok and zlib.brotliDecompressSync(zlib.brotliCompressSync(s, { params = { [1] = 4 } })) == s
          end
          parentPort.postMessage(ok)
        ]], { eval = true })
        worker:on('message', resolve)
      end)
    end
    for _, ok in ipairs(await(Promise.all(done))) do assert.is_true(ok) end
  end)

  it('computes CRC-32', function()
    assert.are.equal(0x414fa339, zlib.crc32('The quick brown fox jumps over the lazy dog'))
    assert.are.equal(zlib.crc32('hello world'), zlib.crc32(' world', zlib.crc32('hello')))
  end)
end)

describe('bad input', function()
  it('reports corrupt and truncated data with zlib\'s codes', function()
    local e = raises('Z_DATA_ERROR', zlib.gunzipSync, 'this is not gzip at all')
    assert.are.equal(-3, e.errno)
    assert.are.equal('incorrect header check', e.message)
    raises('Z_DATA_ERROR', zlib.inflateSync, 'garbage!')
    local e2 = raises('Z_BUF_ERROR', zlib.gunzipSync, zlib.gzipSync(TEXT):sub(1, 100))
    assert.are.equal('unexpected end of file', e2.message)
    raises('ERR__ERROR_FORMAT_PADDING_1', zlib.brotliDecompressSync, 'xxxxxxxx')
    raises('Z_BUF_ERROR', zlib.gunzipSync, '')
    -- flipped bytes in the middle of a stream, many times over: never a crash
    local packed = zlib.deflateSync(TEXT)
    for i = 20, #packed - 10, 97 do
      local bad = packed:sub(1, i - 1) .. string.char((packed:byte(i) + 1) % 256) .. packed:sub(i + 1)
      pcall(zlib.inflateSync, bad)
      pcall(zlib.brotliDecompressSync, bad)
    end
  end)

  it('stops a zip bomb at maxOutputLength', function()
    local bomb = zlib.gzipSync(('\0'):rep(64 * 1024 * 1024), { level = 9 })
    assert.is_true(#bomb < 200 * 1024)
    local e = raises('ERR_BUFFER_TOO_LARGE', zlib.gunzipSync, bomb, { maxOutputLength = 1024 * 1024 })
    assert.truthy(e.message:find('1048576', 1, true))
    raises('ERR_BUFFER_TOO_LARGE', zlib.brotliDecompressSync,
      zlib.brotliCompressSync(('\0'):rep(8 * 1024 * 1024)), { maxOutputLength = 4096 })
    local ok, pe = pcall(await, zlib.promises.gunzip(bomb, { maxOutputLength = 65536 }))
    assert.is_false(ok)
    assert.are.equal('ERR_BUFFER_TOO_LARGE', pe.code)
    -- exactly at the bound is fine
    assert.are.equal(1000, #zlib.gunzipSync(zlib.gzipSync(('x'):rep(1000)), { maxOutputLength = 1000 }))
  end)

  it('validates options as Node does', function()
    raises('ERR_OUT_OF_RANGE', zlib.gzipSync, 'x', { level = 10 })
    raises('ERR_OUT_OF_RANGE', zlib.gzipSync, 'x', { windowBits = 3 })
    raises('ERR_INVALID_ARG_TYPE', zlib.gzipSync, 'x', { level = 'high' })
    raises('ERR_INVALID_ARG_TYPE', zlib.gzipSync, {})
    raises('ERR_INVALID_ARG_TYPE', zlib.gzip, 'x')
  end)
end)

describe('interoperability with real decoders and encoders', function()
  it('is read by gzip -d and reads gzip\'s output', function()
    if not have('gzip') then pending('gzip is not installed') return end
    local p = tmpfile(zlib.gzipSync(TEXT))
    local out, err, code = run.sh('gzip -dc < ' .. p)
    os.remove(p)
    assert.are.equal(0, code, err)
    assert.are.equal(TEXT, out)
    local plain = tmpfile(TEXT)
    local packed = run.sh('gzip -9c < ' .. plain)
    os.remove(plain)
    assert.are.equal(TEXT, zlib.gunzipSync(packed))
    assert.are.equal(TEXT, zlib.unzipSync(packed))
  end)

  it('is read by brotli -d and reads brotli\'s output', function()
    if not have('brotli') then pending('brotli is not installed') return end
    local p = tmpfile(zlib.brotliCompressSync(TEXT))
    local out, err, code = run.sh('brotli -dc < ' .. p)
    os.remove(p)
    assert.are.equal(0, code, err)
    assert.are.equal(TEXT, out)
    local plain = tmpfile(TEXT)
    local packed = run.sh('brotli -c -q 5 < ' .. plain)
    os.remove(plain)
    assert.are.equal(TEXT, zlib.brotliDecompressSync(packed))
  end)

  it('agrees with Node\'s zlib both ways', function()
    if not have('node') then pending('node is not installed') return end
    local input = tmpfile(TEXT)
    local mine = {}
    for _, name in ipairs { 'gzip', 'deflate', 'deflateRaw', 'brotliCompress' } do
      mine[name] = crypto.encode(zlib[name .. 'Sync'](TEXT), 'base64')
    end
    local js = tmpfile(([==[
      const z = require('zlib'), fs = require('fs');
      const text = fs.readFileSync(%q);
      const mine = %s;
      const back = { gzip: 'gunzipSync', deflate: 'inflateSync', deflateRaw: 'inflateRawSync', brotliCompress: 'brotliDecompressSync' };
      const out = { decoded: {}, theirs: {} };
      for (const k in mine) {
        out.decoded[k] = z[back[k]](Buffer.from(mine[k], 'base64')).equals(text);
        out.theirs[k] = z[k + 'Sync'](text).toString('base64');
      }
      console.log(JSON.stringify(out));
    ]==]):format(input, cjson.encode(mine)))
    local out, err, code = run.sh('node ' .. js)
    os.remove(js)
    os.remove(input)
    assert.are.equal(0, code, err)
    local r = cjson.decode(out)
    local back = { gzip = 'gunzipSync', deflate = 'inflateSync', deflateRaw = 'inflateRawSync', brotliCompress = 'brotliDecompressSync' }
    for name, fn in pairs(back) do
      assert.is_true(r.decoded[name], 'node could not decode luster ' .. name)
      assert.are.equal(TEXT, zlib[fn](crypto.decode(r.theirs[name], 'base64')), 'luster could not decode node ' .. name)
    end
  end)
end)

describe('streams', function()
  local stream = require('luster.stream')

  local function collect(s)
    local parts = {}
    s:on('data', function(c) parts[#parts + 1] = c end)
    await(stream.finished(s))
    return table.concat(parts)
  end

  it('compresses and decompresses chunk by chunk, through pipe', function()
    local g, d = zlib.createGzip({ level = 6 }), zlib.createGunzip()
    g:pipe(d)
    local out = async(collect)(d)
    for i = 1, #TEXT, 1000 do g:write(TEXT:sub(i, i + 999)) end
    g:finish()
    assert.are.equal(TEXT, await(out))
    for _, pair in ipairs { { 'createDeflateRaw', 'inflateRawSync' }, { 'createBrotliCompress', 'brotliDecompressSync' },
                            { 'createDeflate', 'inflateSync' } } do
      local c = zlib[pair[1]]()
      local p = async(collect)(c)
      c:finish(TEXT)
      assert.are.equal(TEXT, zlib[pair[2]](await(p)))
    end
  end)

  it('holds a decompression bomb at the high-water mark while nobody reads', function()
    local bomb = zlib.gzipSync(('\0'):rep(64 * 1024 * 1024), { level = 9 })
    local d = zlib.createGunzip()
    d:pause()
    d:write(bomb)
    d:finish()
    await(Promise.new(function(r) setTimeout(r, 50) end))
    assert.is_true(d.readableLength <= 128 * 1024, 'buffered ' .. d.readableLength)
    local total = 0
    d:on('data', function(c) total = total + #c end)
    d:resume()
    await(stream.finished(d))
    assert.are.equal(64 * 1024 * 1024, total)
  end)

  it('flushes pending output on flush() and reports corrupt input as an error event', function()
    local g = zlib.createDeflate()
    local got = {}
    g:on('data', function(c) got[#got + 1] = c end)
    g:write('partial message')
    await(Promise.new(function(r) g:flush(r) end))
    await(Promise.new(function(r) setImmediate(r) end))   -- let 'data' flow
    -- a sync-flushed deflate stream decodes up to the flush point
    local d0 = zlib.createInflate()
    local back = {}
    d0:on('data', function(c) back[#back + 1] = c end)
    d0:write(table.concat(got))
    await(Promise.new(function(r) setTimeout(r, 10) end))
    assert.are.equal('partial message', table.concat(back))
    local d = zlib.createInflate()
    local e = await(Promise.new(function(resolve) d:on('error', resolve); d:finish('not deflate data') end))
    assert.are.equal('Z_DATA_ERROR', e.code)
  end)
end)
