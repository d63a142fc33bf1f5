-- url: WHATWG URL and URLSearchParams (API.md "url").  Expected values are
-- what Node 20 gives for the same input.
local url = require('url')
local URL, URLSearchParams = url.URL, url.URLSearchParams

-- { input, base or false, href }
local function hrefs(list)
  for _, c in ipairs(list) do
    local u = URL(c[1], c[2] or nil)
    assert.are.equal(c[3], u.href, 'for ' .. c[1])
  end
end

local function refused(list)
  for _, c in ipairs(list) do
    local input, base = c, nil
    if type(c) == 'table' then input, base = c[1], c[2] end
    assert.is_false(URL.canParse(input, base), 'for ' .. input:sub(1, 80))
  end
end

describe('URL parsing: schemes', function()
  it('lower-cases the scheme and accepts + - . after the first letter', function()
    hrefs({
      { 'HTTP://Example.COM/', false, 'http://example.com/' },
      { 'git+ssh://h/r', false, 'git+ssh://h/r' },
      { 'a.b-c:x', false, 'a.b-c:x' },
    })
  end)

  it('refuses an input with no scheme and no base, or a scheme starting with a digit', function()
    refused({ 'example.com/x', '1http://x/', '', '//h/p' })
  end)

  it('strips leading and trailing spaces and controls and removes tabs and newlines', function()
    hrefs({
      { '  \t http://h/a\nb \r\n', false, 'http://h/ab' },
      { 'ht\ttp://h/', false, 'http://h/' },
    })
  end)
end)

describe('URL parsing: authority', function()
  it('takes any number of slashes and backslashes after a special scheme', function()
    hrefs({
      { 'http:example.com/', false, 'http://example.com/' },
      { 'http:\\\\h\\p', false, 'http://h/p' },
      { 'https:////h/', false, 'https://h/' },
    })
  end)

  it('splits credentials at the last @ and the password at the first :', function()
    local u = URL('http://us er:pa:ss@w@h/')
    assert.are.equal('us%20er', u.username)
    assert.are.equal('pa%3Ass%40w', u.password)
    assert.are.equal('h', u.host)
    assert.are.equal('http://u@h/', URL('http://u:@h/').href)
  end)

  it('refuses credentials with no host after them', function()
    refused({ 'http://user@/', 'http://@/x', 'http://a:b@' })
  end)

  it('drops the default port, keeps another, and refuses one past 65535', function()
    hrefs({
      { 'http://h:80/', false, 'http://h/' },
      { 'https://h:443/', false, 'https://h/' },
      { 'ws://h:0080/', false, 'ws://h/' },
      { 'http://h:8080/', false, 'http://h:8080/' },
      { 'http://h:/', false, 'http://h/' },
      { 'foo://h:80/', false, 'foo://h:80/' },
    })
    refused({ 'http://h:65536/', 'http://h:8a/', 'http://h:-1/' })
    assert.are.equal('65535', URL('http://h:65535').port)
  end)
end)

describe('URL parsing: hosts', function()
  it('lower-cases domains and decodes percent-encoded ones', function()
    hrefs({
      { 'http://EXAMPLE.com', false, 'http://example.com/' },
      { 'http://%65xample.com/', false, 'http://example.com/' },
    })
  end)

  it('refuses forbidden host code points and an empty special host', function()
    refused({ 'http://a b/', 'http://a<b/', 'http://a%25b/', 'http:///', 'http://a^b/', 'http://%00/' })
  end)

  it('encodes non-ASCII labels with Punycode and checks xn-- labels', function()
    hrefs({
      { 'http://münchen.de/', false, 'http://xn--mnchen-3ya.de/' },
      { 'http://MÜNCHEN.de/', false, 'http://xn--mnchen-3ya.de/' },
      { 'http://日本語.jp/', false, 'http://xn--wgv71a119e.jp/' },
      { 'http://xn--mnchen-3ya.de/', false, 'http://xn--mnchen-3ya.de/' },
      { 'http://ｇｏ。com/', false, 'http://go.com/' },
    })
    refused({ 'http://xn--/', 'http://xn--a.com/', 'http://\239\191\189.com/' })
  end)

  it('refuses a non-ASCII or xn-- label too long for Punycode to be cheap', function()
    refused({ 'http://' .. ('ü'):rep(2000) .. '.com/', 'http://xn--' .. ('a'):rep(5000) .. '/' })
    assert.are.equal(('a'):rep(5000) .. '.com', URL('http://' .. ('A'):rep(5000) .. '.com/').hostname)
  end)

  it('parses IPv4 in decimal, hex and octal parts and as fewer than four numbers', function()
    hrefs({
      { 'http://0x7f.1/', false, 'http://127.0.0.1/' },
      { 'http://0300.0250.0.1/', false, 'http://192.168.0.1/' },
      { 'http://4294967295/', false, 'http://255.255.255.255/' },
      { 'http://192.168.257/', false, 'http://192.168.1.1/' },
      { 'http://1.2.3.4./', false, 'http://1.2.3.4/' },
      { 'http://0x/', false, 'http://0.0.0.0/' },
    })
    refused({ 'http://4294967296/', 'http://1.2.3.256/', 'http://1.2.3.4.5/', 'http://foo.09/', 'http://0xg.1/' })
  end)

  it('does not treat a non-special host as IPv4', function()
    assert.are.equal('foo://0x7f.1/', URL('foo://0x7f.1/').href)
  end)

  it('parses IPv6 and writes it compressed, lower-case, with the IPv4 tail in hex', function()
    hrefs({
      { 'http://[0:0:0:0:0:0:0:1]/', false, 'http://[::1]/' },
      { 'http://[1:0:0:2:0:0:0:3]/', false, 'http://[1:0:0:2::3]/' },
      { 'http://[1:0::]/', false, 'http://[1::]/' },
      { 'http://[ABCD::1:0:0:0]:81/', false, 'http://[abcd::1:0:0:0]:81/' },
      { 'http://[::ffff:192.168.0.1]/', false, 'http://[::ffff:c0a8:1]/' },
      { 'foo://[::1]/', false, 'foo://[::1]/' },
    })
    refused({ 'http://[::1/', 'http://[1::2::3]/', 'http://[1:2:3:4:5:6:7:8:9]/', 'http://[::1.2.3]/',
      'http://[::1.2.3.04]/', 'http://[g::]/' })
  end)

  it('keeps an opaque host of a non-special scheme percent-encoded as typed', function()
    hrefs({
      { 'foo://Ex%41mple.com/', false, 'foo://Ex%41mple.com/' },
      { 'foo://ü/', false, 'foo://%C3%BC/' },
    })
    refused({ 'foo://a b/', 'foo://a<b/' })
  end)
end)

describe('URL parsing: paths', function()
  it('resolves . and .. segments, also written as %2e', function()
    hrefs({
      { 'http://h/a/./b/../c', false, 'http://h/a/c' },
      { 'http://h/a/%2e/b/%2E%2e/c', false, 'http://h/a/c' },
      { 'http://h/a/b/..', false, 'http://h/a/' },
      { 'http://h/../../x', false, 'http://h/x' },
      { 'http://h/a/.', false, 'http://h/a/' },
      { 'http://h/a/..b', false, 'http://h/a/..b' },
    })
  end)

  it('percent-encodes the path set and treats \\ as / only for special schemes', function()
    hrefs({
      { 'http://h/a b<c>"d`{e}', false, 'http://h/a%20b%3Cc%3E%22d%60%7Be%7D' },
      { 'http://h/ü', false, 'http://h/%C3%BC' },
      { 'http://h/a\\b', false, 'http://h/a/b' },
      { 'foo://h/a\\b', false, 'foo://h/a\\b' },
      { 'http://h/%zz%41', false, 'http://h/%zz%41' },
    })
  end)

  it('keeps a non-special path that would read as a host apart with /.', function()
    local u = URL('foo:/.//p')
    assert.are.equal('foo:/.//p', u.href)
    assert.are.equal('//p', u.pathname)
    assert.are.equal('', URL('foo://h').pathname)
  end)

  it('gives opaque paths for schemes without a slash, encoding only controls', function()
    hrefs({
      { 'mailto:Joe@Example.com', false, 'mailto:Joe@Example.com' },
      { 'javascript:alert(1)', false, 'javascript:alert(1)' },
      { 'data:text/plain,a\1b c', false, 'data:text/plain,a%01b c' },
    })
    local u = URL('mailto:a@b?subject=x#f')
    assert.are.equal('a@b', u.pathname)
    assert.are.equal('?subject=x', u.search)
    assert.are.equal('null', u.origin)
    refused({ { 'x', 'mailto:a@b' } })
    assert.are.equal('mailto:a@b#y', URL('#y', 'mailto:a@b').href)
  end)
end)

describe('URL parsing: query and fragment', function()
  it('encodes the query set, and an apostrophe only for special schemes', function()
    hrefs({
      { "http://h/?a b'c\"<>", false, "http://h/?a%20b%27c%22%3C%3E" },
      { "foo://h/?a b'c", false, "foo://h/?a%20b'c" },
      { 'http://h/?ü=`', false, 'http://h/?%C3%BC=`' },
    })
  end)

  it('encodes the fragment set and keeps a # inside the fragment', function()
    hrefs({
      { 'http://h/#a b`c#d', false, 'http://h/#a%20b%60c#d' },
      { 'http://h/?#', false, 'http://h/?#' },
    })
    local u = URL('http://h/?#')
    assert.are.equal('', u.search)
    assert.are.equal('', u.hash)
  end)
end)

describe('URL parsing: relative references', function()
  local base = 'http://u:p@h:81/a/b/c?q#f'

  it('resolves against a base as a browser does', function()
    hrefs({
      { 'd', base, 'http://u:p@h:81/a/b/d' },
      { '../d', base, 'http://u:p@h:81/a/d' },
      { '/d', base, 'http://u:p@h:81/d' },
      { '//other/d', base, 'http://other/d' },
      { '?x', base, 'http://u:p@h:81/a/b/c?x' },
      { '#g', base, 'http://u:p@h:81/a/b/c?q#g' },
      { '', base, 'http://u:p@h:81/a/b/c?q' },
      { 'http:d', base, 'http://u:p@h:81/a/b/d' },
      { 'https:d', base, 'https://d/' },
      { '\\d', base, 'http://u:p@h:81/d' },
    })
  end)

  it('takes a base URL object as well as a string, and refuses an invalid base', function()
    assert.are.equal('http://h/x', URL('x', URL('http://h/y')).href)
    local ok, err = pcall(URL, 'x', 'not a url')
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_URL', err.code)
  end)
end)

describe('URL parsing: file URLs', function()
  it('normalizes drive letters, drops localhost and keeps the drive on ..', function()
    hrefs({
      { 'file:///C|/x', false, 'file:///C:/x' },
      { 'file:c:\\foo\\bar', false, 'file:///c:/foo/bar' },
      { 'file://localhost/etc/hosts', false, 'file:///etc/hosts' },
      { 'file://server/share', false, 'file://server/share' },
      { 'file:///C:/../..', false, 'file:///C:/' },
      { '..\\x', 'file:///C:/a/b', 'file:///C:/x' },
      { '/x', 'file:///C:/a/b', 'file:///C:/x' },
      { 'file:', 'file:///a/b?q', 'file:///a/b?q' },
      { 'x', 'file:///a/b', 'file:///a/x' },
    })
  end)
end)

describe('URL objects', function()
  it('has every component as a property and tostring gives href', function()
    local u = URL('https://user:pw@Example.com:8443/p/a/t/h?query=string#hash')
    assert.are.equal('https:', u.protocol)
    assert.are.equal('user', u.username)
    assert.are.equal('pw', u.password)
    assert.are.equal('example.com:8443', u.host)
    assert.are.equal('example.com', u.hostname)
    assert.are.equal('8443', u.port)
    assert.are.equal('/p/a/t/h', u.pathname)
    assert.are.equal('?query=string', u.search)
    assert.are.equal('#hash', u.hash)
    assert.are.equal('https://example.com:8443', u.origin)
    assert.are.equal(u.href, tostring(u))
    assert.are.equal(u.href, u:toString())
    assert.are.equal(u.href, u:toJSON())
    assert.are.equal(u.href, URL.new(u).href)
  end)

  it('gives the origin of blob: URLs and null for others', function()
    assert.are.equal('https://h:1', URL('blob:https://h:1/x').origin)
    assert.are.equal('null', URL('blob:ftp://h/x').origin)
    assert.are.equal('null', URL('file:///x').origin)
    assert.are.equal('null', URL('foo://h/').origin)
  end)

  it('raises ERR_INVALID_URL with the input and base, and URL.parse gives nil', function()
    local ok, err = pcall(URL, 'http://a b/', 'http://base/')
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_URL', err.code)
    assert.are.equal('TypeError', err.name)
    assert.are.equal('http://a b/', err.input)
    assert.are.equal('http://base/', err.base)
    assert.are.equal('ERR_INVALID_URL: Invalid URL', tostring(err))
    assert.is_nil(URL.parse('nope'))
    assert.are.equal('http://h/x', URL.parse('x', 'http://h/').href)
    assert.is_true(URL.canParse('x', 'http://h/'))
    local ok2, err2 = pcall(URL)
    assert.is_false(ok2)
    assert.are.equal('ERR_MISSING_ARGS', err2.code)
  end)

  it('refuses to set a read-only property', function()
    local u = URL('http://h/')
    assert.has_error(function() u.origin = 'x' end)
    assert.are.equal('http://h', u.origin)
  end)
end)

describe('URL setters', function()
  it('reparses on href and raises on an invalid one', function()
    local u = URL('http://h/?a=1')
    local sp = u.searchParams
    u.href = 'https://x/y?b=2'
    assert.are.equal('x', u.host)
    assert.are.equal('2', sp:get('b'))
    assert.is_nil(sp:get('a'))
    assert.has_error(function() u.href = 'no scheme' end)
    assert.are.equal('https://x/y?b=2', u.href)
  end)

  it('changes protocol only between schemes of the same kind', function()
    local u = URL('http://h:443/')
    u.protocol = 'https'
    assert.are.equal('https://h/', u.href) -- 443 is now the default
    u.protocol = 'foo'
    assert.are.equal('https://h/', u.href)
    local f = URL('foo://h/')
    f.protocol = 'http'
    assert.are.equal('foo://h/', f.href)
    local p = URL('http://h:8080/')
    p.protocol = 'file'
    assert.are.equal('http://h:8080/', p.href)
    u.protocol = 'wss:ignored'
    assert.are.equal('wss://h/', u.href)
  end)

  it('encodes username and password, and ignores them where there can be none', function()
    local u = URL('http://h/')
    u.username = 'a b@c'
    u.password = 'p:w'
    assert.are.equal('http://a%20b%40c:p%3Aw@h/', u.href)
    local f = URL('file:///x')
    f.username = 'u'
    assert.are.equal('file:///x', f.href)
  end)

  it('sets host with a port, hostname without, and leaves opaque paths alone', function()
    local u = URL('http://h:1/p')
    u.host = 'Other.com:8080'
    assert.are.equal('http://other.com:8080/p', u.href)
    u.hostname = 'third'
    assert.are.equal('http://third:8080/p', u.href)
    u.hostname = 'bad host'
    assert.are.equal('third', u.hostname)
    u.hostname = 'x.com:99' -- the Standard now ignores a value with a port
    assert.are.equal('third', u.hostname)
    local m = URL('mailto:a@b')
    m.host = 'x'
    assert.are.equal('mailto:a@b', m.href)
  end)

  it('sets port from leading digits, removes it on empty, ignores a bad one', function()
    local u = URL('http://h/')
    u.port = '8080abc'
    assert.are.equal('8080', u.port)
    u.port = 'abc'
    assert.are.equal('8080', u.port)
    u.port = 80
    assert.are.equal('', u.port)
    u.port = '99999'
    assert.are.equal('', u.port)
    u.port = '81'
    u.port = ''
    assert.are.equal('http://h/', u.href)
  end)

  it('sets pathname with ? and # encoded and dot segments resolved', function()
    local u = URL('http://h/old?q#f')
    u.pathname = 'a b/../c?d#e'
    assert.are.equal('http://h/c%3Fd%23e?q#f', u.href)
    local f = URL('file:///unicorn')
    f.pathname = '//monkey/..//'
    assert.are.equal('file://///', f.href)
  end)

  it('sets search and hash with or without their leading character', function()
    local u = URL('http://h/p')
    u.search = 'a=1 2'
    assert.are.equal('?a=1%202', u.search)
    u.search = '??b'
    assert.are.equal('??b', u.search)
    u.hash = 'x y'
    assert.are.equal('#x%20y', u.hash)
    u.hash = '##z'
    assert.are.equal('##z', u.hash)
    u.search = ''
    u.hash = ''
    assert.are.equal('http://h/p', u.href)
    local o = URL('sc:a b #c')
    o.hash = ''
    assert.are.equal('sc:a b', o.href) -- trailing spaces of an opaque path go with the hash
  end)
end)

describe('URLSearchParams', function()
  it('is made from a string (with or without ?), a list of pairs or a map', function()
    assert.are.equal('a=1&b=2', URLSearchParams('?a=1&b=2'):toString())
    assert.are.equal('b=2&a=1&b=3', URLSearchParams({ { 'b', '2' }, { 'a', 1 }, { 'b', '3' } }):toString())
    assert.are.equal('a=1&b=x&c=1&c=2', URLSearchParams({ c = { 1, 2 }, b = 'x', a = '1' }):toString())
    assert.are.equal('a=1', URLSearchParams(URLSearchParams('a=1')):toString())
    assert.are.equal('', URLSearchParams():toString())
    local ok, err = pcall(URLSearchParams, { { 'a' } })
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_TUPLE', err.code)
  end)

  it('decodes + and %XX, keeps a bad %, and replaces invalid UTF-8 with U+FFFD', function()
    local p = URLSearchParams('a=b+c%20d&e=%zz&f=%FF&%3D=%26&g&=h&&')
    assert.are.equal('b c d', p:get('a'))
    assert.are.equal('%zz', p:get('e'))
    assert.are.equal('\239\191\189', p:get('f'))
    assert.are.equal('&', p:get('='))
    assert.are.equal('', p:get('g'))
    assert.are.equal('h', p:get(''))
    assert.are.equal(6, p.size)
  end)

  it('serializes with + for space and percent-encodes all but *-._ and alphanumerics', function()
    local p = URLSearchParams()
    p:append('a b', "~!'()*-._ü&=")
    assert.are.equal("a+b=%7E%21%27%28%29*-._%C3%BC%26%3D", p:toString())
    assert.are.equal(p:toString(), tostring(p))
  end)

  it('gets, sets, appends, deletes and tests names (and name-value pairs)', function()
    local p = URLSearchParams('a=1&b=2&a=3')
    assert.are.equal('1', p:get('a'))
    assert.is_nil(p:get('z'))
    assert.are.same({ '1', '3' }, p:getAll('a'))
    assert.are.same({}, p:getAll('z'))
    assert.is_true(p:has('b'))
    assert.is_true(p:has('a', '3'))
    assert.is_false(p:has('a', '2'))
    p:append('c', '4')
    p:set('a', '5')
    assert.are.equal('a=5&b=2&c=4', p:toString())
    p:set('d', '6')
    p:delete('b')
    assert.are.equal('a=5&c=4&d=6', p:toString())
    p:append('a', '7')
    p:delete('a', '5')
    assert.are.equal('c=4&d=6&a=7', p:toString())
    assert.are.equal(3, p.size)
  end)

  it('sorts by name, stably, in UTF-16 order', function()
    local p = URLSearchParams('z=1&a=2&z=0&\239\188\161=3&\240\159\152\128=4&b=5')
    p:sort()
    -- U+1F600 (a surrogate pair) sorts before U+FF21 as UTF-16 code units
    assert.are.equal('a=2&b=5&z=1&z=0&%F0%9F%98%80=4&%EF%BC%A1=3', p:toString())
  end)

  it('iterates entries, keys and values with a for loop', function()
    local p = URLSearchParams('a=1&b=2&a=3')
    local seen = {}
    for k, v in p:entries() do seen[#seen + 1] = k .. v end
    assert.are.same({ 'a1', 'b2', 'a3' }, seen)
    local keys, values = {}, {}
    for k in p:keys() do keys[#keys + 1] = k end
    for v in p:values() do values[#values + 1] = v end
    assert.are.same({ 'a', 'b', 'a' }, keys)
    assert.are.same({ '1', '2', '3' }, values)
    local each = {}
    p:forEach(function(v, k, self) each[#each + 1] = k .. '=' .. v assert.are.equal(p, self) end)
    assert.are.same({ 'a=1', 'b=2', 'a=3' }, each)
    local viapairs = 0
    for _ in pairs(p) do viapairs = viapairs + 1 end
    assert.are.equal(3, viapairs)
  end)

  it('writes its changes into the URL it belongs to, and follows that URL', function()
    local u = URL('http://h/p?a=1#f')
    local p = u.searchParams
    assert.are.equal(p, u.searchParams)
    p:append('b', 'x y')
    assert.are.equal('http://h/p?a=1&b=x+y#f', u.href)
    p:delete('a')
    p:delete('b')
    assert.are.equal('http://h/p#f', u.href)
    u.search = '?c=3'
    assert.are.equal('3', p:get('c'))
    u.search = ''
    assert.are.equal(0, p.size)
  end)
end)

describe('url helpers', function()
  it('turns file URLs into paths and back', function()
    assert.are.equal('/a b/c#d', url.fileURLToPath('file:///a%20b/c%23d'))
    assert.are.equal('/x', url.fileURLToPath(URL('file://localhost/x')))
    local ok, err = pcall(url.fileURLToPath, 'http://h/x')
    assert.is_false(ok)
    assert.are.equal('ERR_INVALID_URL_SCHEME', err.code)
    ok, err = pcall(url.fileURLToPath, 'file://host/x')
    assert.are.equal('ERR_INVALID_FILE_URL_HOST', err.code)
    ok, err = pcall(url.fileURLToPath, 'file:///a%2Fb')
    assert.are.equal('ERR_INVALID_FILE_URL_PATH', err.code)
    assert.are.equal('file:///tmp/a%20b%25c%3F%23/', url.pathToFileURL('/tmp/a b%c?#/').href)
    assert.are.equal('file://' .. process.cwd() .. '/rel', url.pathToFileURL('rel').href)
    assert.are.equal('/tmp/a b%c?#/', url.fileURLToPath(url.pathToFileURL('/tmp/a b%c?#/')))
  end)

  it('formats a URL with parts left out', function()
    local u = URL('http://u:p@xn--mnchen-3ya.de:81/p?q#f')
    assert.are.equal(u.href, url.format(u))
    assert.are.equal('http://xn--mnchen-3ya.de:81/p', url.format(u, { auth = false, search = false, fragment = false }))
    assert.are.equal('http://u:p@münchen.de:81/p?q#f', url.format(u, { unicode = true }))
  end)

  it('resolves a reference against a base, relative bases staying relative', function()
    assert.are.equal('/one/two/four', url.resolve('/one/two/three', 'four'))
    assert.are.equal('http://example.com/one', url.resolve('http://example.com/', '/one'))
    assert.are.equal('http://example.com/two', url.resolve('http://example.com/one', '/two'))
    assert.are.equal('http://a/d?x#y', url.resolve('http://a/b/c', '../d?x#y'))
  end)

  it('converts domains and makes http.request options', function()
    assert.are.equal('xn--mnchen-3ya.de', url.domainToASCII('MÜNCHEN.de'))
    assert.are.equal('münchen.de', url.domainToUnicode('xn--mnchen-3ya.de'))
    assert.are.equal('', url.domainToASCII('xn--'))
    local o = url.urlToHttpOptions(URL('http://a%20b:c@[::1]:8080/p?q=1#h'))
    assert.are.equal('::1', o.hostname)
    assert.are.equal(8080, o.port)
    assert.are.equal('/p?q=1', o.path)
    assert.are.equal('a b:c', o.auth)
    assert.are.equal('http:', o.protocol)
  end)

  it('makes URL and URLSearchParams globals that are the module\'s constructors', function()
    assert.are.equal(url.URL, _G.URL)
    assert.are.equal(url.URLSearchParams, _G.URLSearchParams)
    assert.are.equal('http://h/', _G.URL('http://h').href)
  end)

  it('has the URL globals in a worker thread too', function()
    local Worker = require('worker_threads').Worker
    local got = await(Promise.new(function(resolve)
      local w = Worker([[require('worker_threads').parentPort:postMessage(
        URL('http://h/?a=1').searchParams:get('a') .. URLSearchParams({ b = 2 }):toString())]], { eval = true })
      w:on('message', resolve)
    end))
    assert.are.equal('1b=2', got)
  end)
end)

describe('the parser fast path', function()
  local parser = require('luster.url_parser')

  it('gives what the state machine gives for the inputs it takes', function()
    local inputs = {
      'http://localhost:8080/users/42?sort=asc&limit=10', 'https://Example.COM/', 'http://h',
      'http://h:80/a', 'ws://h:0/', 'http://127.0.0.1:3000/x', 'http://1.2.3.4./', 'http://0.0.0.0',
      'http://h/a#b?c', 'http://h/?a#b#c', 'http://h/a|b^c[d]', 'ftp://h:21/f', 'http://a..b/',
      'http://h/%41%zz', 'http://h:/', 'http://h/.x', 'http://h/a.b/c', "http://h/it's#it's",
    }
    local taken = 0
    for _, s in ipairs(inputs) do
      local fast, href = parser.parse_fast(s)
      local slow = parser.parse_state_machine(s)
      if fast then
        taken = taken + 1
        assert.are.same(slow, fast, 'for ' .. s)
        if href then assert.are.equal(parser.serialize(slow), href, 'href for ' .. s) end
      end
    end
    assert.is_true(taken >= 12)
  end)
end)

describe('req.query', function()
  local H = require('helpers.http')
  local json = require('json')

  it('is parsed with the URL Standard\'s form rules, repeats as lists', function()
    local srv = H.serve([[
      local http = require('http')
      local json = require('json')
      local server = http.createServer(function(req, res) res:finish(json.encode(req.query)) end)
      server:listen(0, '127.0.0.1', function() console.log('port', server:address().port) end)
    ]])
    local out = H.curl(("'http://127.0.0.1:%d/q?a=1&b=x+y%%20z&a=2&c&=e&f=%%FF&g=%%zz'"):format(srv.port))
    srv:stop()
    local q = json.decode(out)
    assert.are.same({ '1', '2' }, q.a)
    assert.are.equal('x y z', q.b)
    assert.are.equal('', q.c)
    assert.are.equal('e', q[''])
    assert.are.equal('\239\191\189', q.f)
    assert.are.equal('%zz', q.g)
  end)
end)
