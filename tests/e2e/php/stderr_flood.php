<?php

/*
 * stderr_flood.php - answers the pid handshake by hand, then writes lines
 * to stderr in a tight loop and never reads stdin again: it ignores the
 * stop command, so only SIGKILL (destroy_timeout) ends it.
 */

declare(strict_types=1);

/* Reads exactly $n bytes of stdin, or exits. */
function read_n(int $n): string
{
    $s = '';
    while (\strlen($s) < $n) {
        $chunk = \fread(\STDIN, $n - \strlen($s));
        if ($chunk === false || $chunk === '') {
            exit(1);
        }
        $s .= $chunk;
    }
    return $s;
}

/* The pid request: a goridge frame (12-byte header with HL 3, no options). */
$head = read_n(12);
$len = \unpack('V', \substr($head, 2, 4))[1];
read_n(4 * ((\ord($head[0]) & 0x0F) - 3) + $len);

/* The answer: version 1, HL 3, flags CONTROL | CODEC_JSON. */
$body = \json_encode(['pid' => \getmypid()]);
$h = \chr(0x13) . \chr(0x01 | 0x08) . \pack('V', \strlen($body));
$h .= \pack('V', \crc32($h)) . "\0\0";
\fwrite(\STDOUT, $h . $body);
\fflush(\STDOUT);

$line = \str_repeat('x', 60);
for ($i = 0; ; $i++) {
    \fwrite(\STDERR, "flood $i $line\n");
}
