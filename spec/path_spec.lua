-- path: Node's POSIX path functions.  Expected values are what Node prints
-- for the same calls.
local path = require('path')

local function cases(fn, list)
  for _, c in ipairs(list) do
    local want = c[#c]
    assert.are.equal(want, fn(unpack(c, 1, #c - 1)), 'for ' .. table.concat(c, ', ', 1, #c - 1))
  end
end

describe('path constants', function()
  it('uses / as separator and : as delimiter', function()
    assert.are.equal('/', path.sep)
    assert.are.equal(':', path.delimiter)
    assert.are.equal(path, path.posix)
  end)
end)

describe('path.join', function()
  it('joins segments and normalizes the result', function()
    cases(path.join, {
      { 'a', 'b', 'c', 'a/b/c' },
      { '/a/', '/b', '/a/b' },
      { 'a', 'b', '../c', 'a/c' },
      { 'a', './b', 'a/b' },
      { '/', 'x', '/x' },
      { 'a', '', 'b', 'a/b' },
      { '..', '..', 'x', '../../x' },
      { 'a', 'b/', 'a/b/' },
    })
  end)

  it('gives . for nothing to join', function()
    assert.are.equal('.', path.join())
    assert.are.equal('.', path.join(''))
    assert.are.equal('.', path.join('a', '..'))
  end)

  it('refuses a segment that is not a string', function()
    local ok, e = pcall(path.join, 'a', 1)
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
  end)
end)

describe('path.normalize', function()
  it('resolves . and .. and collapses slashes', function()
    cases(path.normalize, {
      { 'a//b/./c/..', 'a/b' },
      { '/a/b/../../..', '/' },
      { '/..', '/' },
      { '../../a', '../../a' },
      { 'a/../..', '..' },
      { '//a', '/a' },
      { 'a/b/', 'a/b/' },
      { '', '.' },
      { '.', '.' },
      { './', './' },
      { '/', '/' },
    })
  end)
end)

describe('path.resolve', function()
  it('resolves a relative path against the working directory', function()
    assert.are.equal(process.cwd() .. '/a/b', path.resolve('a', 'b'))
    assert.are.equal(process.cwd(), path.resolve())
  end)

  it('starts again from the last absolute segment', function()
    assert.are.equal('/z/w', path.resolve('/x', 'y', '/z', 'w'))
    assert.are.equal('/x/y', path.resolve('/x', 'y/z', '..'))
    assert.are.equal('/', path.resolve('/'))
  end)

  it('drops a trailing slash', function()
    assert.are.equal('/a/b', path.resolve('/a/b/'))
  end)

  it('refuses a segment that is not a string', function()
    local ok, e = pcall(path.resolve, '/a', false)
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_ARG_TYPE', e.code)
  end)
end)

describe('path.isAbsolute', function()
  it('is true only for paths that start with /', function()
    assert.is_true(path.isAbsolute('/x'))
    assert.is_true(path.isAbsolute('/'))
    assert.is_false(path.isAbsolute('x/y'))
    assert.is_false(path.isAbsolute('./x'))
    assert.is_false(path.isAbsolute(''))
  end)
end)

describe('path.dirname, basename and extname', function()
  it('gives the directory part', function()
    cases(path.dirname, {
      { '/a/b/c', '/a/b' },
      { '/a/b/', '/a' },
      { 'a', '.' },
      { '/a', '/' },
      { '/', '/' },
      { '', '.' },
      { 'a/b', 'a' },
    })
  end)

  it('gives the last part, without the extension when it is given', function()
    cases(path.basename, {
      { '/a/b.lua', 'b.lua' },
      { 'a/b/', 'b' },
      { '/', '' },
      { 'file', 'file' },
    })
    assert.are.equal('b', path.basename('/a/b.lua', '.lua'))
    assert.are.equal('b.lua', path.basename('/a/b.lua', '.txt'))
    assert.are.equal('file.lua', path.basename('file.lua', 'file.lua'))
  end)

  it('gives the extension from the last dot of the last part', function()
    cases(path.extname, {
      { 'x.tar.gz', '.gz' },
      { 'index.html', '.html' },
      { '.bashrc', '' },
      { 'a.', '.' },
      { 'noext', '' },
      { '/a.b/c', '' },
      { '', '' },
    })
  end)
end)

describe('path.relative', function()
  it('gives the way from one path to another', function()
    cases(path.relative, {
      { '/a/b/c', '/a/d', '../../d' },
      { '/a/b', '/a/b/c/d', 'c/d' },
      { '/a', '/a', '' },
      { '/data/orandea/test/aaa', '/data/orandea/impl/bbb', '../../impl/bbb' },
      { '/a/b', '/', '../..' },
    })
  end)

  it('resolves relative arguments against the working directory first', function()
    assert.are.equal('x', path.relative(process.cwd(), 'x'))
  end)
end)

describe('path.parse and path.format', function()
  it('splits a path into root, dir, base, ext and name', function()
    assert.are.same({ root = '/', dir = '/home/u', base = 'file.txt', ext = '.txt', name = 'file' },
      path.parse('/home/u/file.txt'))
    assert.are.same({ root = '', dir = '', base = 'file', ext = '', name = 'file' }, path.parse('file'))
    assert.are.same({ root = '', dir = 'a', base = '.env', ext = '', name = '.env' }, path.parse('a/.env'))
  end)

  it('puts the parts back together', function()
    assert.are.equal('/x/y.z', path.format({ dir = '/x', base = 'y.z' }))
    assert.are.equal('/f', path.format({ root = '/', base = 'f' }))
    assert.are.equal('n.e', path.format({ name = 'n', ext = '.e' }))
    assert.are.equal('/home/u/file.txt', path.format(path.parse('/home/u/file.txt')))
  end)
end)
