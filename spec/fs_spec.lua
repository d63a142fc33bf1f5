-- fs: the synchronous, promise and callback subset (API.md "require").
local fs = require('fs')
local child = require('helpers.child')

local dir

-- The outcome of a callback-style call as a promise of {err, result}.
local function callback(fn, ...)
  local args = { n = select('#', ...), ... }
  return await(Promise.new(function(resolve)
    args.n = args.n + 1
    args[args.n] = function(err, res) resolve({ err = err, res = res }) end
    fn(unpack(args, 1, args.n))
  end))
end

local function raises(fn, ...)
  local ok, e = pcall(fn, ...)
  assert.is_false(ok, 'expected an error')
  return e
end

local rejects = require('helpers.serve').rejects

before_each(function() dir = child.tmpdir() end)
after_each(function() child.rmdir(dir) end)

describe('reading and writing files synchronously', function()
  it('writes a file and reads it back', function()
    fs.writeFileSync(dir .. '/a.txt', 'hello\nworld')
    assert.are.equal('hello\nworld', fs.readFileSync(dir .. '/a.txt'))
    assert.are.equal('hello\nworld', child.read(dir .. '/a.txt'))
  end)

  it('accepts and ignores an encoding argument', function()
    fs.writeFileSync(dir .. '/e.txt', 'text', 'utf8')
    assert.are.equal('text', fs.readFileSync(dir .. '/e.txt', 'utf8'))
    assert.are.equal('text', fs.readFileSync(dir .. '/e.txt', { encoding = 'utf8' }))
  end)

  it('keeps binary data byte for byte', function()
    local bytes = '\0\1\2\255\254' .. string.rep('\0', 1000) .. 'end'
    fs.writeFileSync(dir .. '/bin', bytes)
    assert.are.equal(bytes, fs.readFileSync(dir .. '/bin'))
  end)

  it('reads a large file whole', function()
    local big = string.rep('0123456789abcdef', 65536) -- 1 MiB
    fs.writeFileSync(dir .. '/big', big)
    assert.are.equal(#big, #fs.readFileSync(dir .. '/big'))
  end)

  it('replaces the content of an existing file', function()
    fs.writeFileSync(dir .. '/r.txt', 'a long first version')
    fs.writeFileSync(dir .. '/r.txt', 'short')
    assert.are.equal('short', fs.readFileSync(dir .. '/r.txt'))
  end)

  it('writes numbers as text', function()
    fs.writeFileSync(dir .. '/n.txt', 42)
    assert.are.equal('42', fs.readFileSync(dir .. '/n.txt'))
  end)

  it('appends to a file, creating it if needed', function()
    fs.appendFileSync(dir .. '/log', 'one\n')
    fs.appendFileSync(dir .. '/log', 'two\n')
    assert.are.equal('one\ntwo\n', fs.readFileSync(dir .. '/log'))
  end)

  it('raises ENOENT with Node\'s message, path and syscall for a missing file', function()
    local e = raises(fs.readFileSync, dir .. '/missing')
    assert.are.equal('ENOENT', e.code)
    assert.are.equal("ENOENT: no such file or directory, open '" .. dir .. "/missing'", e.message)
    assert.are.equal(dir .. '/missing', e.path)
    assert.are.equal('open', e.syscall)
    assert.matches('ENOENT', tostring(e))
  end)

  it('raises EISDIR when reading a directory', function()
    assert.are.equal('EISDIR', raises(fs.readFileSync, dir).code)
  end)

  it('raises ENOENT when writing into a missing directory', function()
    assert.are.equal('ENOENT', raises(fs.writeFileSync, dir .. '/no/such/file', 'x').code)
  end)
end)

describe('stat', function()
  it('describes a file with size, times and is* methods', function()
    fs.writeFileSync(dir .. '/f', '12345')
    local st = fs.statSync(dir .. '/f')
    assert.are.equal(5, st.size)
    assert.is_true(st.isFile())
    assert.is_false(st.isDirectory())
    assert.is_true(math.abs(st.mtimeMs / 1000 - os.time()) < 60)
  end)

  it('describes a directory', function()
    local st = fs.statSync(dir)
    assert.is_true(st.isDirectory())
    assert.is_false(st.isFile())
  end)

  it('raises ENOENT for a missing path', function()
    local e = raises(fs.statSync, dir .. '/none')
    assert.are.equal('ENOENT', e.code)
    assert.are.equal('stat', e.syscall)
  end)

  it('describes a symbolic link itself with lstatSync', function()
    fs.writeFileSync(dir .. '/real', 'x')
    os.execute(('ln -s %s %s'):format(dir .. '/real', dir .. '/ln'))
    assert.is_true(fs.lstatSync(dir .. '/ln').isSymbolicLink())
    assert.is_false(fs.statSync(dir .. '/ln').isSymbolicLink())
    assert.is_true(fs.statSync(dir .. '/ln').isFile())
  end)

  it('tells whether a path exists with existsSync', function()
    fs.writeFileSync(dir .. '/here', '')
    assert.is_true(fs.existsSync(dir .. '/here'))
    assert.is_true(fs.existsSync(dir))
    assert.is_false(fs.existsSync(dir .. '/not-here'))
  end)
end)

describe('directories', function()
  it('creates a directory and lists its entries sorted by name', function()
    fs.mkdirSync(dir .. '/d')
    for _, n in ipairs({ 'c', 'a', 'b', '10', '2' }) do fs.writeFileSync(dir .. '/d/' .. n, n) end
    assert.are.same({ '10', '2', 'a', 'b', 'c' }, fs.readdirSync(dir .. '/d'))
  end)

  it('lists an empty directory as an empty table', function()
    fs.mkdirSync(dir .. '/empty')
    assert.are.same({}, fs.readdirSync(dir .. '/empty'))
  end)

  it('raises EEXIST when the directory exists', function()
    fs.mkdirSync(dir .. '/d')
    assert.are.equal('EEXIST', raises(fs.mkdirSync, dir .. '/d').code)
  end)

  it('creates missing parents with recursive = true, and accepts existing ones', function()
    fs.mkdirSync(dir .. '/x/y/z', { recursive = true })
    assert.is_true(fs.statSync(dir .. '/x/y/z').isDirectory())
    assert.has_no.errors(function() fs.mkdirSync(dir .. '/x/y', { recursive = true }) end)
  end)

  it('raises ENOENT without recursive when a parent is missing', function()
    assert.are.equal('ENOENT', raises(fs.mkdirSync, dir .. '/p/q').code)
  end)

  it('raises ENOENT or ENOTDIR listing something that is not a directory', function()
    assert.are.equal('ENOENT', raises(fs.readdirSync, dir .. '/nope').code)
    fs.writeFileSync(dir .. '/file', '')
    assert.are.equal('ENOTDIR', raises(fs.readdirSync, dir .. '/file').code)
  end)

  it('removes an empty directory with rmdirSync, and refuses a full one', function()
    fs.mkdirSync(dir .. '/gone')
    fs.rmdirSync(dir .. '/gone')
    assert.is_false(fs.existsSync(dir .. '/gone'))
    fs.mkdirSync(dir .. '/full')
    fs.writeFileSync(dir .. '/full/f', '')
    assert.are.equal('ENOTEMPTY', raises(fs.rmdirSync, dir .. '/full').code)
  end)
end)

describe('removing and renaming', function()
  it('deletes a file with unlinkSync', function()
    fs.writeFileSync(dir .. '/f', 'x')
    fs.unlinkSync(dir .. '/f')
    assert.is_false(fs.existsSync(dir .. '/f'))
    assert.are.equal('ENOENT', raises(fs.unlinkSync, dir .. '/f').code)
  end)

  it('renames a file', function()
    fs.writeFileSync(dir .. '/old', 'content')
    fs.renameSync(dir .. '/old', dir .. '/new')
    assert.is_false(fs.existsSync(dir .. '/old'))
    assert.are.equal('content', fs.readFileSync(dir .. '/new'))
  end)

  it('removes a directory tree with rmSync recursive', function()
    fs.mkdirSync(dir .. '/t/a/b', { recursive = true })
    fs.writeFileSync(dir .. '/t/a/b/f', 'x')
    fs.writeFileSync(dir .. '/t/g', 'y')
    fs.rmSync(dir .. '/t', { recursive = true })
    assert.is_false(fs.existsSync(dir .. '/t'))
  end)

  it('raises for a missing path with rmSync unless force is set', function()
    assert.are.equal('ENOENT', raises(fs.rmSync, dir .. '/none').code)
    assert.has_no.errors(function() fs.rmSync(dir .. '/none', { force = true }) end)
  end)

  it('removes a symbolic link to a directory without touching the directory', function()
    fs.mkdirSync(dir .. '/target')
    fs.writeFileSync(dir .. '/target/keep', 'precious')
    os.execute(('ln -s %s %s'):format(dir .. '/target', dir .. '/link'))
    fs.rmSync(dir .. '/link', { recursive = true })
    assert.is_false(fs.existsSync(dir .. '/link'))
    assert.are.equal('precious', fs.readFileSync(dir .. '/target/keep'))
  end)

  it('refuses to remove a directory with rmSync without recursive', function()
    fs.mkdirSync(dir .. '/d')
    fs.writeFileSync(dir .. '/d/f', '')
    assert.is_not_nil(raises(fs.rmSync, dir .. '/d').code)
    assert.is_true(fs.existsSync(dir .. '/d/f'))
  end)
end)

describe('fs.promises', function()
  it('writes, appends and reads a file', function()
    await(fs.promises.writeFile(dir .. '/p', 'a'))
    await(fs.promises.appendFile(dir .. '/p', 'b'))
    assert.are.equal('ab', await(fs.promises.readFile(dir .. '/p', 'utf8')))
  end)

  it('rejects with ENOENT for a missing file', function()
    local e = rejects(fs.promises.readFile(dir .. '/missing'))
    assert.are.equal('ENOENT', e.code)
    assert.are.equal(dir .. '/missing', e.path)
  end)

  it('stats with is* methods', function()
    await(fs.promises.writeFile(dir .. '/s', 'abc'))
    local st = await(fs.promises.stat(dir .. '/s'))
    assert.are.equal(3, st.size)
    assert.is_true(st.isFile())
  end)

  it('makes, lists, renames and removes', function()
    await(fs.promises.mkdir(dir .. '/m/n', { recursive = true }))
    await(fs.promises.writeFile(dir .. '/m/n/b', ''))
    await(fs.promises.writeFile(dir .. '/m/n/a', ''))
    assert.are.same({ 'a', 'b' }, await(fs.promises.readdir(dir .. '/m/n')))
    await(fs.promises.rename(dir .. '/m/n/a', dir .. '/m/n/c'))
    await(fs.promises.unlink(dir .. '/m/n/b'))
    assert.are.same({ 'c' }, await(fs.promises.readdir(dir .. '/m/n')))
    await(fs.promises.unlink(dir .. '/m/n/c'))
    await(fs.promises.rmdir(dir .. '/m/n'))
    assert.is_false(fs.existsSync(dir .. '/m/n'))
  end)

  it('rejects mkdir of an existing directory with EEXIST', function()
    assert.are.equal('EEXIST', rejects(fs.promises.mkdir(dir)).code)
  end)

  it('checks existence with access', function()
    assert.is_nil(await(fs.promises.access(dir)))
    assert.are.equal('ENOENT', rejects(fs.promises.access(dir .. '/nope')).code)
  end)

  it('does not block the loop while reading', function()
    fs.writeFileSync(dir .. '/big', string.rep('x', 4 * 1024 * 1024))
    local ticked = false
    setImmediate(function() ticked = true end)
    local p = fs.promises.readFile(dir .. '/big')
    assert.is_false(ticked)
    local data = await(p)
    assert.are.equal(4 * 1024 * 1024, #data)
  end)

  it('runs many operations at once', function()
    local writes = {}
    for i = 1, 20 do writes[i] = fs.promises.writeFile(dir .. '/f' .. i, tostring(i)) end
    await(Promise.all(writes))
    local reads = {}
    for i = 1, 20 do reads[i] = fs.promises.readFile(dir .. '/f' .. i) end
    local got = await(Promise.all(reads))
    for i = 1, 20 do assert.are.equal(tostring(i), got[i]) end
  end)
end)

describe('callback forms', function()
  it('calls back with nil and the content', function()
    fs.writeFileSync(dir .. '/c', 'cb')
    local r = callback(fs.readFile, dir .. '/c', 'utf8')
    assert.is_nil(r.err)
    assert.are.equal('cb', r.res)
  end)

  it('calls back with the error for a missing file', function()
    local r = callback(fs.readFile, dir .. '/missing')
    assert.are.equal('ENOENT', r.err.code)
    assert.is_nil(r.res)
  end)

  it('writes a file', function()
    local r = callback(fs.writeFile, dir .. '/w', 'written')
    assert.is_nil(r.err)
    assert.are.equal('written', fs.readFileSync(dir .. '/w'))
  end)

  it('gives stats with is* methods, like statSync', function()
    fs.writeFileSync(dir .. '/s', 'abc')
    local r = callback(fs.stat, dir .. '/s')
    assert.is_nil(r.err)
    assert.are.equal('function', type(r.res.isFile))
    assert.is_true(r.res.isFile())
  end)

  it('lists a directory sorted by name', function()
    for _, n in ipairs({ 'b', 'a', 'c' }) do fs.writeFileSync(dir .. '/' .. n, '') end
    local r = callback(fs.readdir, dir)
    assert.are.same({ 'a', 'b', 'c' }, r.res)
  end)

  it('makes a directory', function()
    local r = callback(fs.mkdir, dir .. '/made')
    assert.is_nil(r.err)
    assert.is_true(fs.statSync(dir .. '/made').isDirectory())
  end)

  it('refuses a call without a callback', function()
    assert.has.errors(function() fs.readFile(dir .. '/x') end)
  end)
end)
