<?php

/*
 * early_answer.php - a worker that answers before it has read its whole
 * request, speaking goridge itself (no RoadRunner library in the loop):
 * it reads the 12-byte header, the options and the context, answers at
 * once (DATA: WRITE "ok\n"; CONNECTED and CLOSE: CONTINUE), and only then
 * reads and discards the body.  Every request is recorded as soon as its
 * context is read:
 *
 *   {"pid","event","uuid","remote_addr","server","body_len"}
 *
 * and once the body is read {"pid","event":"BODY","uuid","body_md5"}.  A
 * header that fails its CRC, or a context that is not the JSON rrtcp sends,
 * is recorded as {"event":"BADFRAME","hex"} and the worker exits 1.
 */

declare(strict_types=1);

require __DIR__ . '/common.php';

function read_exact(int $n): string
{
    $buf = '';
    while (\strlen($buf) < $n) {
        $chunk = \fread(\STDIN, \min($n - \strlen($buf), 65536));
        if ($chunk === false || $chunk === '') {
            if (\feof(\STDIN)) {
                exit(0);
            }
            continue;
        }
        $buf .= $chunk;
    }
    return $buf;
}

/* One frame, header and payload in one write (rrtcp-protocol(7) 1.1, 1.6). */
function send_frame(int $flags, ?int $opt, string $payload): void
{
    $h = \chr(0x10 | ($opt === null ? 3 : 4)) . \chr($flags) . \pack('V', \strlen($payload));
    $h .= \pack('V', \crc32($h)) . "\0\0";
    if ($opt !== null) {
        $h .= \pack('V', $opt);
    }
    \fwrite(\STDOUT, $h . $payload);
    \fflush(\STDOUT);
}

function bad_frame(string $bytes): never
{
    record(['pid' => \getmypid(), 'event' => 'BADFRAME', 'hex' => \bin2hex($bytes)]);
    exit(1);
}

$pid = \getmypid();
record(['pid' => $pid, 'event' => 'START']);

for (;;) {
    $h = read_exact(12);
    $hl = \ord($h[0]) & 0x0f;
    $flags = \ord($h[1]);
    $len = \unpack('V', \substr($h, 2, 4))[1];
    if (\crc32(\substr($h, 0, 6)) !== \unpack('V', \substr($h, 6, 4))[1] || $hl < 3 || $hl > 13) {
        bad_frame($h);
    }
    $opts = $hl > 3 ? read_exact(($hl - 3) * 4) : '';
    if ($flags & 0x01) {
        /* control: the pid request, or stop */
        $ctl = \json_decode(read_exact($len), true);
        if (!empty($ctl['stop'])) {
            exit(0);
        }
        send_frame(0x01, null, \json_encode(['pid' => $pid]));
        continue;
    }
    if ($opts === '') {
        bad_frame($h);
    }
    $ctxlen = \unpack('V', \substr($opts, 0, 4))[1];
    if ($ctxlen > $len) {
        bad_frame($h . $opts);
    }
    $raw = read_exact($ctxlen);
    $ctx = \json_decode($raw, true);
    if (!\is_array($ctx) || !isset($ctx['uuid'], $ctx['event'], $ctx['remote_addr'])) {
        bad_frame($h . $opts . $raw);
    }
    record(['pid' => $pid, 'event' => $ctx['event'], 'uuid' => $ctx['uuid'],
        'remote_addr' => $ctx['remote_addr'], 'server' => $ctx['server'] ?? null,
        'body_len' => $len - $ctxlen]);
    if ($ctx['event'] === 'DATA') {
        send_frame(0, 5, "WRITEok\n");
    } else {
        send_frame(0, 8, 'CONTINUE');
    }
    $md5 = \hash_init('md5');
    for ($left = $len - $ctxlen; $left > 0; $left -= \strlen($chunk)) {
        $chunk = read_exact(\min($left, 65536));
        \hash_update($md5, $chunk);
    }
    record(['pid' => $pid, 'event' => 'BODY', 'uuid' => $ctx['uuid'], 'body_md5' => \hash_final($md5)]);
}
