<?php

/*
 * Byte-level tests of the rrtcp PHP fallback library (conf/php) against the
 * test vectors of rrtcp-protocol(7) section 6. No PHPUnit:
 *
 *   php tests/php/vectors.php
 *
 * It plays the server's side: worker scripts from tests/php/workers/ run
 * under proc_open() and every frame they write is compared byte for byte.
 * RPC is checked against a fake server (workers/rpc_server.php). Prints
 * "ok - name" or "not ok - name: detail" per check, then "N passed,
 * M failed"; exits 1 if anything failed.
 */

declare(strict_types=1);

require __DIR__ . '/../../conf/php/autoload.php';

use Spiral\Goridge\Frame;
use Spiral\Goridge\RPC\Exception\RPCException;
use Spiral\Goridge\RPC\Exception\ServiceException;
use Spiral\Goridge\RPC\RPC;
use Spiral\Goridge\StreamRelay;

ini_set('default_socket_timeout', '5');

const WORKERS = __DIR__ . '/workers';
const UUID = '0b7e4a1c-3f2d-4c8e-9a6b-5d1f2e3c4b5a';

// --- reporting -----------------------------------------------------------

$passed = $failed = 0;

function check(string $name, bool $ok, string $detail = ''): bool
{
    global $passed, $failed;
    $ok ? $passed++ : $failed++;
    echo $ok ? "ok - $name\n" : "not ok - $name: $detail\n";

    return $ok;
}

/** Compares two byte strings and shows both in hex on a mismatch. */
function check_bytes(string $name, ?string $got, string $want): bool
{
    return check($name, $got === $want, $got === null
        ? 'nothing received, want ' . bin2hex($want)
        : 'got ' . bin2hex($got) . ', want ' . bin2hex($want));
}

function h(string $hex): string
{
    return hex2bin(preg_replace('/\s+/', '', $hex));
}

// --- the vectors, copied from rrtcp-protocol(7) section 6 -----------------------

/** Request context as rrtcp sends it (rrtcp-protocol(7) 4.3). */
function ctx(string $event): string
{
    return '{"remote_addr":"127.0.0.1:50000","server":"smtp","uuid":"' . UUID . '","event":"' . $event . '"}';
}

$V = [
    'V1' => h('1400730000005cee0f500000730000007b2272656d6f74655f61646472223a223132372e302e302e313a35303030'
        . '30222c22736572766572223a22736d7470222c2275756964223a2230623765346131632d336632642d346338652d39'
        . '6136622d356431663265336334623561222c226576656e74223a22434f4e4e4543544544227d'),
    'V1b' => h('14 00 76 00 00 00 6e 1e d1 67 00 00 6e 00 00 00') . ctx('DATA') . "HELO x\r\n",
    'V2' => h('14 00 0d 00 00 00 f3 39 ef db 00 00 05 00 00 00 57 52 49 54 45 32 32 30 20 6f 6b 0d 0a'),
    'V3' => h('14 00 08 00 00 00 c1 c9 31 ec 00 00 08 00 00 00 43 4f 4e 54 49 4e 55 45'),
    'V4a' => h('13 09 0c 00 00 00 5f 0c 46 73 00 00 7b 22 70 69 64 22 3a 34 32 30 30 7d'),
    'V4b' => h('13 01 0c 00 00 00 9e 47 36 43 00 00 7b 22 70 69 64 22 3a 34 32 34 32 7d'),
    'V5' => h('13 09 0d 00 00 00 3a 6b fa cb 00 00 7b 22 73 74 6f 70 22 3a 74 72 75 65 7d'),
    'V6' => h('13 40 04 00 00 00 88 1e 11 e3 00 00 62 6f 6f 6d'),
    'V7' => h('14 00 0d 00 00 00 f3 39 ef db 00 00 0d 00 00 00 7b 22 73 74 6f 70 22 3a 74 72 75 65 7d'),
    'V8' => h('14 00 05 00 00 00 1c 11 5b 1e 00 00 05 00 00 00 43 4c 4f 53 45'),
    'V9' => h('14 00 0f 00 00 00 78 f1 e6 71 00 00 0a 00 00 00 57 52 49 54 45 43 4c 4f 53 45 62 79 65 0d 0a'),
    'V10' => h('14 00 0a 00 00 00 4a 01 38 46 01 00 05 00 00 00 57 52 49 54 45 70 61 72 74 31'),
    'R1' => h('15 08 2f 00 00 00 22 c6 f8 2a 00 00 01 00 00 00 09 00 00 00') . 'tcp.Close"' . UUID . '"',
    'R2' => h('15 08 0d 00 00 00 97 a1 c3 20 00 00 01 00 00 00 09 00 00 00') . 'tcp.Closetrue',
    'R3' => h('15 48 1f 00 00 00 ca 66 20 82 00 00 04 00 00 00 0e 00 00 00') . 'resetter.Resetno such plugin: x',
    'R4' => h('15 20 15 00 00 00 22 ba df 44 00 00 05 00 00 00 0e 00 00 00') . 'resetter.Reset' . h('060c0003746370'),
    'R5' => h('15 20 12 00 00 00 9b 82 08 d9 00 00 05 00 00 00 0e 00 00 00') . 'resetter.Reset' . h('03020001'),
];

/** What each vector holds: [payload, options, flags, byte10]. */
$fields = [
    'V1' => [ctx('CONNECTED'), [115], 0x00, 0],
    'V1b' => [ctx('DATA') . "HELO x\r\n", [110], 0x00, 0],
    'V2' => ["WRITE220 ok\r\n", [5], 0x00, 0],
    'V3' => ['CONTINUE', [8], 0x00, 0],
    'V4a' => ['{"pid":4200}', [], 0x09, 0],
    'V4b' => ['{"pid":4242}', [], 0x01, 0],
    'V5' => ['{"stop":true}', [], 0x09, 0],
    'V6' => ['boom', [], 0x40, 0],
    'V7' => ['{"stop":true}', [13], 0x00, 0],
    'V8' => ['CLOSE', [5], 0x00, 0],
    'V9' => ["WRITECLOSEbye\r\n", [10], 0x00, 0],
    'V10' => ['WRITEpart1', [5], 0x00, Frame::BYTE10_STREAM],
    'R1' => ['tcp.Close"' . UUID . '"', [1, 9], 0x08, 0],
    'R2' => ['tcp.Closetrue', [1, 9], 0x08, 0],
    'R3' => ['resetter.Resetno such plugin: x', [4, 14], 0x48, 0],
    'R4' => ['resetter.Reset' . h('060c0003746370'), [5, 14], 0x20, 0],
    'R5' => ['resetter.Reset' . h('03020001'), [5, 14], 0x20, 0],
];

/**
 * The test's own frame encoder (rrtcp-protocol(7) 1.1), kept apart from the
 * library; it is checked against the vectors before it is used.
 */
function tframe(string $payload, array $options = [], int $flags = 0, int $byte10 = 0): string
{
    $head = chr(0x10 | (3 + count($options))) . chr($flags) . pack('V', strlen($payload));

    return $head . pack('V', crc32($head)) . chr($byte10) . "\0"
        . ($options === [] ? '' : pack('V*', ...$options)) . $payload;
}

/** A server->worker TCP request frame: options [len(ctx)], ctx . body. */
function request(string $ctx, string $body = ''): string
{
    return tframe($ctx . $body, [strlen($ctx)]);
}

/** A worker->server response frame. */
function response(string $kind, string $body = ''): string
{
    return tframe($kind . $body, [strlen($kind)]);
}

// --- a worker process on pipes ----------------------------------------------

final class Child
{
    public int $pid;
    public string $allOut = '';   // every byte seen on stdout
    public string $err = '';      // every byte seen on stderr
    private string $out = '';     // stdout bytes not yet consumed as frames
    private bool $outEof = false;
    private bool $errEof = false;
    private ?int $exit = null;
    /** @var resource */
    private $proc;
    /** @var array<int, resource> */
    private array $pipes = [];

    public function __construct(string $script)
    {
        // Uncaught errors go to stderr whatever php.ini says.
        $cmd = [PHP_BINARY, '-d', 'display_errors=0', '-d', 'log_errors=1', '-d', 'error_log=', $script];
        $env = getenv() + ['RR_RELAY' => 'pipes', 'RR_MODE' => 'tcp'];
        $this->proc = proc_open($cmd, [['pipe', 'r'], ['pipe', 'w'], ['pipe', 'w']], $this->pipes, null, $env);
        stream_set_blocking($this->pipes[1], false);
        stream_set_blocking($this->pipes[2], false);
        $this->pid = proc_get_status($this->proc)['pid'];
    }

    /** One fwrite(), so a frame under PIPE_BUF reaches the pipe in one write(). */
    public function send(string $bytes): void
    {
        @fwrite($this->pipes[0], $bytes);
    }

    public function closeStdin(): void
    {
        fclose($this->pipes[0]);
    }

    /** Reads whatever the child writes until $deadline; false on timeout. */
    private function pump(float $deadline): bool
    {
        $read = [];
        if (!$this->outEof) {
            $read[] = $this->pipes[1];
        }
        if (!$this->errEof) {
            $read[] = $this->pipes[2];
        }
        $wait = max(0.0, $deadline - microtime(true));
        $write = $except = null;
        if ($read === [] || @stream_select($read, $write, $except, (int) $wait, (int) (fmod($wait, 1) * 1e6)) < 1) {
            return false;
        }
        foreach ($read as $pipe) {
            $chunk = (string) fread($pipe, 65536);
            if ($pipe === $this->pipes[1]) {
                $this->out .= $chunk;
                $this->allOut .= $chunk;
                $this->outEof = $chunk === '' && feof($pipe);
            } else {
                $this->err .= $chunk;
                $this->errEof = $chunk === '' && feof($pipe);
            }
        }

        return true;
    }

    /** Next complete frame from stdout; null on EOF or timeout. */
    public function readFrame(float $timeout = 5.0): ?string
    {
        $deadline = microtime(true) + $timeout;
        while (true) {
            if (strlen($this->out) >= 12) {
                $size = (ord($this->out[0]) & 0x0F) * 4 + unpack('V', $this->out, 2)[1];
                if (strlen($this->out) >= $size) {
                    $frame = substr($this->out, 0, $size);
                    $this->out = substr($this->out, $size);
                    return $frame;
                }
            }
            if ($this->outEof || !$this->pump($deadline)) {
                return null;
            }
        }
    }

    /** True once stdout reached EOF with no bytes left over. */
    public function stdoutEnded(float $timeout = 5.0): bool
    {
        $deadline = microtime(true) + $timeout;
        while (!$this->outEof && $this->pump($deadline)) {
        }

        return $this->outEof && $this->out === '';
    }

    /** Waits for the exit status (killing the child after $timeout); null on timeout. */
    public function waitExit(float $timeout = 5.0): ?int
    {
        $deadline = microtime(true) + $timeout;
        while ($this->exit === null && microtime(true) < $deadline) {
            $this->pump(min($deadline, microtime(true) + 0.05));
            $status = proc_get_status($this->proc);
            if (!$status['running']) {
                $this->exit = $status['exitcode'];
            }
        }
        while (!$this->errEof && $this->pump(microtime(true) + 0.2)) {
        }
        if ($this->exit === null) {
            proc_terminate($this->proc, 9);
        }

        return $this->exit;
    }

    /** Spawns a worker and does the pid handshake; the reply is returned in $reply. */
    public static function started(string $script, ?string &$reply = null): self
    {
        global $V;
        $child = new self($script);
        $child->send($V['V4a']);
        $reply = $child->readFrame();

        return $child;
    }
}

// --- 1. Frame::packFrame and the frame decoder ------------------------------

foreach ($fields as $name => [$payload, $options, $flags, $byte10]) {
    check_bytes("test encoder matches $name", tframe($payload, $options, $flags, $byte10), $V[$name]);
}

foreach ($fields as $name => [$payload, $options, $flags, $byte10]) {
    $frame = new Frame($payload, $options, $flags);
    $frame->byte10 = $byte10;
    check_bytes("Frame::packFrame $name", Frame::packFrame($frame), $V[$name]);
}

$memory = fopen('php://memory', 'w+b');
fwrite($memory, implode('', $V));
rewind($memory);
$relay = new StreamRelay($memory, $memory);
foreach ($fields as $name => [$payload, $options, $flags, $byte10]) {
    $frame = $relay->waitFrame();
    $got = [$frame->payload, $frame->options, $frame->flags, $frame->byte10];
    check("StreamRelay::waitFrame decodes $name", $got === [$payload, $options, $flags, $byte10],
        json_encode([bin2hex((string) $frame->payload), $frame->options, $frame->flags, $frame->byte10]));
}

// --- 2. the observed full worker session (rrtcp-protocol(7) section 6) ------------

$w = Child::started(WORKERS . '/session.php', $hello);
$pidReply = tframe('{"pid":' . $w->pid . '}', [], 0x01);
check_bytes('pid handshake: V4a -> V4b layout with the real pid', $hello, $pidReply);
check('pid reply: HL 3, flags CONTROL only, byte10/11 zero',
    $hello !== null && $hello[0] === "\x13" && $hello[1] === "\x01" && substr($hello, 10, 2) === "\0\0",
    bin2hex((string) $hello));
$expectedOut = $pidReply;

$steps = [
    ['V1 CONNECTED -> V2 WRITE "220 ok\r\n"', $V['V1'], $V['V2']],
    ['V1b DATA "HELO x\r\n" -> WRITE echo', $V['V1b'], response('WRITE', "HELO x\r\n")],
    ['DATA "hello\r\n" -> WRITE "hello\r\n"', request(ctx('DATA'), "hello\r\n"), response('WRITE', "hello\r\n")],
    ['DATA "ECHO\r\n" (worker echoes) -> V3 CONTINUE', request(ctx('DATA'), "ECHO\r\n"), $V['V3']],
    ['DATA "ERR\r\n" -> V6 error "boom"', request(ctx('DATA'), "ERR\r\n"), $V['V6']],
    ['DATA "QUIT\r\n" -> V9 WRITECLOSE "bye\r\n"', request(ctx('DATA'), "QUIT\r\n"), $V['V9']],
    ['event WHATEVER -> TcpEvent::Unknown', request(ctx('WHATEVER')), response('WRITE', 'event=Unknown')],
    ['ctx without "event" -> TcpEvent::Unknown',
        request('{"remote_addr":"127.0.0.1:50000","server":"smtp","uuid":"' . UUID . '"}'),
        response('WRITE', 'event=Unknown')],
    ['CLOSE -> V3 CONTINUE', request(ctx('CLOSE')), $V['V3']],
    ['a second pid request is answered the same way', $V['V4a'], $pidReply],
    ['DATA "STOP\r\n" -> V7 Worker::stop()', request(ctx('DATA'), "STOP\r\n"), $V['V7']],
    ['V5 stop command -> V8 CLOSE frame', $V['V5'], $V['V8']],
];
foreach ($steps as [$name, $send, $want]) {
    $w->send($send);
    check_bytes($name, $w->readFrame(), $want);
    $expectedOut .= $want;
}
check('after V8: EOF on stdout', $w->stdoutEnded());
check('after V8: exit status 0', ($status = $w->waitExit()) === 0, "exit status " . var_export($status, true));
check('stdout carried the frames and nothing else', $w->allOut === $expectedOut,
    'stdout ' . bin2hex($w->allOut));
check('echo and print landed on stderr', str_contains($w->err, 'hello from echo+print'), "stderr: {$w->err}");
check('getLogger() writes "[php info] msg {json}" to stderr',
    str_contains($w->err, '[php info] logged {"n":1}'), "stderr: {$w->err}");

// --- 3. header timing and EOF (rrtcp-protocol(7) 1.5, 1.6) ------------------------

$w = Child::started(WORKERS . '/session.php');
$w->send(substr($V['V1'], 0, 12));
usleep(300000);
$w->send(substr($V['V1'], 12));
check_bytes('12 header bytes, pause, rest: the frame is read', $w->readFrame(), $V['V2']);
$w->closeStdin();
$w->waitExit();

$w = Child::started(WORKERS . '/session.php');
$w->send(substr($V['V1'], 0, 7));
usleep(300000);
$w->send(substr($V['V1'], 7));
$status = $w->waitExit();
check('7 header bytes, pause, rest: worker dies (exit 255)', $status === 255, 'exit ' . var_export($status, true));
check('... with "Incorrect header size" on stderr',
    str_contains($w->err, 'Unable to read frame header: Incorrect header size'), "stderr: {$w->err}");
check('... and writes nothing after the pid reply', $w->allOut === tframe('{"pid":' . $w->pid . '}', [], 0x01),
    bin2hex($w->allOut));

$w = Child::started(WORKERS . '/session.php');
$w->closeStdin();
$status = $w->waitExit();
check('stdin closed while waiting: fatal, exit 255', $status === 255, 'exit ' . var_export($status, true));
check('... HeaderException on stderr', str_contains($w->err, 'HeaderException')
    && str_contains($w->err, 'Incorrect header size'), "stderr: {$w->err}");

// --- 4. inputs that kill the PHP worker (rrtcp-protocol(7) 2, 4.3) ----------------

$fatal = [
    'ctx without "uuid": TypeError' => [request('{"remote_addr":"x:1","server":"s","event":"DATA"}'), 'TypeError'],
    'ctx that is not JSON: JsonException' => [request('{123}'), 'JsonException'],
    'data frame without option word: TypeError' => [tframe('WRITEx'), 'TypeError'],
    '{"pid":0}: undefined control package' => [tframe('{"pid":0}', [], 0x09), 'undefined control package'],
];
foreach ($fatal as $name => [$send, $needle]) {
    $w = Child::started(WORKERS . '/session.php');
    $w->send($send);
    $status = $w->waitExit();
    check($name, $status === 255 && str_contains($w->err, $needle),
        'exit ' . var_export($status, true) . ", stderr: {$w->err}");
}

// --- 5. RPC over TCP and unix sockets (rrtcp-protocol(7) 5) ------------------------

/** Starts workers/rpc_server.php; returns [process, pipes, address]. */
function rpc_server(string $listen, array $replies): array
{
    $cmd = [PHP_BINARY, WORKERS . '/rpc_server.php', $listen, ...array_map('bin2hex', $replies)];
    $proc = proc_open($cmd, [['pipe', 'r'], ['pipe', 'w'], ['pipe', 'w']], $pipes);
    $line = (string) fgets($pipes[1]);

    return [$proc, $pipes, trim(substr($line, strlen('listening ')))];
}

/** Requests the server received, as binary strings. */
function rpc_requests(array $pipes): array
{
    preg_match_all('/^req ([0-9a-f]+)$/m', stream_get_contents($pipes[1]), $m);

    return array_map('hex2bin', $m[1]);
}

function rpc_try(callable $call): mixed
{
    try {
        return $call();
    } catch (\Throwable $e) {
        return $e;
    }
}

$replies = [
    $V['R2'],
    tframe('informer.List["tcp"]', [2, 13], 0x08),
    tframe('resetter.List["tcp"]', [3, 13], 0x08),
    $V['R3'],
    tframe('informer.Listtrue', [99, 13], 0x08),
    tframe('informer.Listtrue', [5], 0x08),
];
[$proc, $pipes, $address] = rpc_server('tcp://127.0.0.1:0', $replies);
$rpc = RPC::create($address);
$results = [
    rpc_try(fn () => $rpc->call('tcp.Close', UUID)),
    rpc_try(fn () => $rpc->call('informer.List', true)),
];
$rpc2 = RPC::create($address);   // a second object and connection
$results[] = rpc_try(fn () => $rpc2->call('resetter.List', true));
$results[] = rpc_try(fn () => $rpc2->call('resetter.Reset', 'x'));
$results[] = rpc_try(fn () => $rpc->call('informer.List', true));
$results[] = rpc_try(fn () => $rpc->call('informer.List', true));
$requests = rpc_requests($pipes);
proc_close($proc);

check_bytes('RPC tcp.Close sends R1', $requests[0] ?? null, $V['R1']);
check('RPC R2 reply decodes to true', $results[0] === true, var_export($results[0], true));
check_bytes('RPC seq 2 on the same object', $requests[1] ?? null, tframe('informer.Listtrue', [2, 13], 0x08));
check('RPC JSON reply decodes to an array', $results[1] === ['tcp'], var_export($results[1], true));
check_bytes('RPC seq is static: a new object continues with 3', $requests[2] ?? null,
    tframe('resetter.Listtrue', [3, 13], 0x08));
check_bytes('RPC resetter.Reset("x") request', $requests[3] ?? null, tframe('resetter.Reset"x"', [4, 14], 0x08));
check('RPC R3 (ERROR flag) throws ServiceException with the text',
    $results[3] instanceof ServiceException
    && $results[3]->getMessage() === "Error 'no such plugin: x' on $address",
    $results[3] instanceof \Throwable ? get_class($results[3]) . ': ' . $results[3]->getMessage() : 'no exception');
check('RPC reply with another seq: "sequence mismatch"', $results[4] instanceof RPCException
    && $results[4]->getMessage() === 'Invalid RPC frame, sequence mismatch',
    $results[4] instanceof \Throwable ? $results[4]->getMessage() : 'no exception');
check_bytes('RPC seq is not advanced by a rejected reply', $requests[5] ?? null,
    tframe('informer.Listtrue', [5, 13], 0x08));
check('RPC reply with 1 option: "options missing"', $results[5] instanceof RPCException
    && $results[5]->getMessage() === 'Invalid RPC frame, options missing',
    $results[5] instanceof \Throwable ? $results[5]->getMessage() : 'no exception');

$path = sys_get_temp_dir() . '/rrtcp-vectors-' . getmypid() . '.sock';
@unlink($path);
[$proc, $pipes, $address] = rpc_server("unix://$path", [tframe('tcp.Closetrue', [5, 9], 0x08)]);
$result = rpc_try(fn () => RPC::create("unix://$path")->call('tcp.Close', UUID));
$requests = rpc_requests($pipes);
proc_close($proc);
@unlink($path);
check_bytes('RPC over unix:// sends the same frame', $requests[0] ?? null,
    tframe('tcp.Close"' . UUID . '"', [5, 9], 0x08));
check('RPC over unix:// decodes the reply', $result === true,
    $result instanceof \Throwable ? $result->getMessage() : var_export($result, true));

// --- 6. the example worker, conf/worker.php ----------------------------------

$w = Child::started(__DIR__ . '/../../conf/worker.php');
$dialogue = [
    ['CONNECTED', '', 'WRITE', "220 rrtcp ESMTP ready\r\n"],
    ['DATA', "EHLO client.example\r\n", 'WRITE', "250 Hello client.example\r\n"],
    ['DATA', "RCPT TO:<b@example.org>\r\n", 'WRITE', "503 Need MAIL first\r\n"],
    ['DATA', "MAIL FROM:<a@example.org>\r\n", 'WRITE', "250 OK\r\n"],
    ['DATA', "RCPT TO:<b@example.org>\r\n", 'WRITE', "250 OK\r\n"],
    ['DATA', "DATA\r\n", 'WRITE', "354 End data with <CR><LF>.<CR><LF>\r\n"],
    ['DATA', "Subject: hi\r\n", 'CONTINUE', ''],
    ['DATA', "..dot\r\n", 'CONTINUE', ''],
    ['DATA', ".\r\n", 'WRITE', '/^250 OK queued as [0-9a-f]{12}\r\n$/'],
    ['DATA', "NOOP\r\n", 'WRITE', "250 OK\r\n"],
    ['DATA', "RSET\r\n", 'WRITE', "250 OK\r\n"],
    ['DATA', "VRFY x\r\n", 'WRITE', "500 unknown command\r\n"],
    ['DATA', "QUIT\r\n", 'WRITECLOSE', "221 Bye\r\n"],
];
$ok = true;
$detail = '';
foreach ($dialogue as [$event, $line, $kind, $reply]) {
    $w->send(request(ctx($event), $line));
    $got = $w->readFrame();
    $body = (string) substr((string) $got, 16);
    $match = $reply !== '' && $reply[0] === '/' ? preg_match($reply, substr($body, strlen($kind))) === 1
        : $body === $kind . $reply;
    if (!$match && $ok) {
        [$ok, $detail] = [false, "after $event " . json_encode($line) . ' got ' . json_encode($body)];
    }
}
check('example worker: SMTP dialogue', $ok, $detail);
$state = sys_get_temp_dir() . '/rrtcp-smtp-' . UUID;
check('example worker: per-connection state file exists', is_file($state));
$w->send(request(ctx('CLOSE')));
check_bytes('example worker: CLOSE -> CLOSE response', $w->readFrame(), $V['V8']);
clearstatcache();
check('example worker: state file removed on CLOSE', !is_file($state));
check('example worker: log line on stderr', str_contains($w->err, 'smtp: queued'), "stderr: {$w->err}");
$w->send($V['V5']);
check_bytes('example worker: stop command -> V8', $w->readFrame(), $V['V8']);
check('example worker: exit status 0', $w->waitExit() === 0);

echo "$passed passed, $failed failed\n";
exit($failed > 0 ? 1 : 0);
