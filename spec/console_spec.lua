-- console (API.md "Conventions": console.log prints like Node).
-- What console prints is checked in a child process, from its real output.
local child = require('helpers.child')

-- What `console.log(<args>)` prints, given the argument list as Lua source.
local function log_of(args_src)
  local r = child.run('console.log(' .. args_src .. ')')
  assert.are.equal(0, r.code, r.err)
  return r.out
end

-- Several console.log lines at once (one child for many checks).
local function lines_of(src)
  local r = child.run(src)
  assert.are.equal(0, r.code, r.err)
  return child.lines(r.out)
end

describe('console.log of plain values', function()
  it('joins its arguments with spaces and ends the line', function()
    assert.are.equal('a b 1 true nil\n', log_of([['a', 'b', 1, true, nil]]))
  end)

  it('prints an empty line with no arguments', function()
    assert.are.equal('\n', log_of(''))
  end)

  it('prints strings as they are at top level', function()
    assert.are.equal("it's \"raw\"\n", log_of([["it's \"raw\""]]))
  end)

  it('prints whole numbers below 2^53 without an exponent', function()
    assert.are.same({ '881999979000000', '9007199254740992', '-42', '0' }, lines_of([[
      console.log(881999979000000)
      console.log(2^53)
      console.log(-42)
      console.log(0)
    ]]))
  end)

  it('prints other numbers the way JavaScript does', function()
    assert.are.same({ '0.1', '1.5', '0.3333333333333333', '1e+21', '1e-7', 'NaN', 'Infinity', '-Infinity', '-0' },
      lines_of([[
        console.log(0.1)
        console.log(1.5)
        console.log(1/3)
        console.log(1e21)
        console.log(1e-7)
        console.log(0/0)
        console.log(1/0)
        console.log(-1/0)
        console.log(-0)
      ]]))
  end)

  it('prints json.null as null', function()
    assert.are.equal('null { x = null }\n', log_of([[require('json').null, { x = require('json').null }]]))
  end)

  it('prints an object with __tostring through it', function()
    assert.are.equal('custom!\n', log_of([[setmetatable({}, { __tostring = function() return 'custom!' end })]]))
  end)

  it('prints an error table by its stack', function()
    local out = log_of([[setmetatable({ code = 'E', message = 'm', stack = 'E: m\n  at somewhere' },
      { __tostring = function(e) return e.code .. ': ' .. e.message end })]])
    assert.are.equal('E: m\n  at somewhere\n', out)
  end)
end)

describe('console.log of tables', function()
  it('prints a record as { a = 1 }', function()
    assert.are.equal('{ a = 1 }\n', log_of('{ a = 1 }'))
  end)

  it('prints a list as { 1, 2, 3 }', function()
    assert.are.equal('{ 1, 2, 3 }\n', log_of('{ 1, 2, 3 }'))
  end)

  it('prints an empty table as {}', function()
    assert.are.equal('{}\n', log_of('{}'))
  end)

  it('prints list items first, then keys in sorted order', function()
    assert.are.equal("{ 'x', 'y', a = 1, b = 2, c = 3 }\n", log_of("{ c = 3, 'x', a = 1, 'y', b = 2 }"))
  end)

  it('quotes strings inside tables with single quotes and escapes', function()
    assert.are.equal("{ 'a\\nb', 'it\\'s', name = 'Bob' }\n", log_of([[{ 'a\nb', "it's", name = 'Bob' }]]))
  end)

  it('brackets keys that are not identifiers', function()
    assert.are.equal("{ [10] = 'ten', ['x-y'] = 1, [true] = 2 }\n", log_of("{ ['x-y'] = 1, [true] = 2, [10] = 'ten' }"))
  end)

  it('brackets keys that are Lua keywords', function()
    assert.are.equal("{ ['end'] = 1, ok = 2 }\n", log_of("{ ['end'] = 1, ok = 2 }"))
  end)

  it('prints nested tables', function()
    assert.are.equal("{ list = { 1, 2 }, user = { name = 'ann' } }\n",
      log_of("{ user = { name = 'ann' }, list = { 1, 2 } }"))
  end)

  it('stops at depth 2 as Node does', function()
    assert.are.equal('{ a = { b = { c = [table] } } }\n', log_of('{ a = { b = { c = { d = 1 } } } }'))
  end)

  it('prints a cycle as [Circular] instead of looping', function()
    local lines = lines_of([[
      local t = { name = 't' }
      t.self = t
      console.log(t)
    ]])
    assert.are.same({ "{ name = 't', self = [Circular] }" }, lines)
  end)

  it('prints a table seen twice (not a cycle) in full both times', function()
    local lines = lines_of([[
      local shared = { 1 }
      console.log({ a = shared, b = shared })
    ]])
    assert.are.same({ '{ a = { 1 }, b = { 1 } }' }, lines)
  end)

  it('breaks a long table over several lines', function()
    local lines = lines_of([[
      console.log({ alpha = 'aaaaaaaaaaaaaaaa', beta = 'bbbbbbbbbbbbbbbbbbbb', gamma = 'cccccccccccccccccccccc' })
    ]])
    assert.are.same({ '{', "  alpha = 'aaaaaaaaaaaaaaaa',", "  beta = 'bbbbbbbbbbbbbbbbbbbb',",
      "  gamma = 'cccccccccccccccccccccc'", '}' }, lines)
  end)

  it('prints functions as [function]', function()
    assert.are.equal('{ f = [function] }\n', log_of('{ f = print }'))
  end)

  it('prints tables with many kinds of keys without failing', function()
    local r = child.run([[
      local t = {}
      for i = 1, 30 do t['k' .. i] = i end
      t[true] = 1; t[false] = 2; t[1.5] = 3; t[print] = 4; t[{}] = 5
      console.log(t)
    ]])
    assert.are.equal(0, r.code, r.err)
    assert.matches('k30 = 30', r.out)
  end)
end)

describe('console.log format strings', function()
  it('replaces %s with a string and %d with a number', function()
    assert.are.equal('Bob is 42 years\n', log_of([['%s is %d years', 'Bob', 42]]))
  end)

  it('keeps the fraction with %d and truncates with %i', function()
    assert.are.equal('42.5 42 -3\n', log_of([['%d %i %i', 42.5, 42.9, -3.7]]))
  end)

  it('prints NaN for %d of something that is not a number', function()
    assert.are.equal('NaN\n', log_of([['%d', 'abc']]))
  end)

  it('formats %f as a number', function()
    assert.are.equal('1.5 2\n', log_of([['%f %f', 1.5, '2']]))
  end)

  it('formats %j as JSON', function()
    assert.are.equal('{"a":[1,2]}\n', log_of([['%j', { a = { 1, 2 } }]]))
  end)

  it('formats %o and %s of a table by inspecting it', function()
    assert.are.equal("{ 1, 'x' } { a = 1 }\n", log_of([['%o %s', { 1, 'x' }, { a = 1 }]]))
  end)

  it('prints %% as a percent sign', function()
    assert.are.equal('100%\n', log_of([['%d%%', 100]]))
  end)

  it('leaves a placeholder with no argument as it is', function()
    assert.are.equal('only %s\n', log_of([['%s %s', 'only']]))
  end)

  it('appends the arguments left over after the placeholders', function()
    assert.are.equal("a b { 1 }\n", log_of([['%s', 'a', 'b', { 1 }]]))
  end)

  it('prints a number as the first argument without treating it as a format', function()
    assert.are.equal('5 %s\n', log_of([[5, '%s']]))
  end)
end)

describe('console.error and console.warn', function()
  it('write to stderr, not stdout', function()
    local r = child.run([[
      console.error('bad', { code = 1 })
      console.warn('careful %d', 3)
      console.log('good')
    ]])
    assert.are.equal('good\n', r.out)
    assert.are.equal('bad { code = 1 }\ncareful 3\n', r.err)
  end)
end)

describe('other console methods', function()
  it('console.info and console.debug write to stdout', function()
    local r = child.run([[ console.info('i') console.debug('d') ]])
    assert.are.equal('i\nd\n', r.out)
  end)

  it('console.count counts per label', function()
    assert.are.same({ 'default: 1', 'x: 1', 'default: 2' }, lines_of([[
      console.count() console.count('x') console.count()
    ]]))
  end)

  it('console.group indents what follows until groupEnd', function()
    assert.are.same({ 'title', '  inside', 'outside' }, lines_of([[
      console.group('title') console.log('inside') console.groupEnd() console.log('outside')
    ]]))
  end)

  it('console.assert prints to stderr only when the condition fails', function()
    local r = child.run([[ console.assert(true, 'no') console.assert(false, 'yes %d', 1) ]])
    assert.are.equal('', r.out)
    assert.are.equal('Assertion failed: yes 1\n', r.err)
  end)

  it('console.time and timeEnd print the label and milliseconds', function()
    local lines = lines_of([[ console.time('t') console.timeEnd('t') ]])
    assert.matches('^t: %d+%.%d+ms$', lines[1])
  end)
end)
