<?php

/*
 * Fake RPC server for tests/php/vectors.php (plays RR's side of
 * rrtcp-protocol(7) section 5; it does not use the library under test).
 *
 *   php rpc_server.php <listen address> <reply hex> [<reply hex> ...]
 *
 * Prints "listening <address>" on stdout, then for each request frame it
 * receives (on any connection, in arrival order) prints "req <hex>" and
 * writes the next canned reply on that connection. Exits 0 once every reply
 * is sent, 1 after 5 s without traffic.
 */

declare(strict_types=1);

$server = stream_socket_server($argv[1], $errno, $error);
if ($server === false) {
    fwrite(STDERR, "listen {$argv[1]}: $error\n");
    exit(1);
}
$name = stream_socket_get_name($server, false);
echo 'listening ', str_starts_with($argv[1], 'unix://') ? $argv[1] : "tcp://$name", "\n";

$replies = array_map('hex2bin', array_slice($argv, 2));
$clients = [];

/** Reads exactly $n bytes from a blocking socket; null on EOF. */
function read_exactly($sock, int $n): ?string
{
    $data = '';
    while (strlen($data) < $n) {
        $chunk = fread($sock, $n - strlen($data));
        if ($chunk === false || $chunk === '') {
            return null;
        }
        $data .= $chunk;
    }

    return $data;
}

while ($replies !== []) {
    $read = [$server, ...$clients];
    $write = $except = null;
    if (stream_select($read, $write, $except, 5) < 1) {
        fwrite(STDERR, "rpc_server: timeout\n");
        exit(1);
    }
    foreach ($read as $sock) {
        if ($sock === $server) {
            $client = stream_socket_accept($server, 5);
            stream_set_timeout($client, 5);
            $clients[] = $client;
            continue;
        }
        $header = read_exactly($sock, 12);
        $rest = $header === null ? null
            : read_exactly($sock, (ord($header[0]) & 0x0F) * 4 - 12 + unpack('V', $header, 2)[1]);
        if ($rest === null) {
            $clients = array_filter($clients, static fn ($c) => $c !== $sock);
            fclose($sock);
            continue;
        }
        echo 'req ', bin2hex($header . $rest), "\n";
        fwrite($sock, array_shift($replies));
    }
}
exit(0);
