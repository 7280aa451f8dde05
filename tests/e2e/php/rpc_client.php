<?php

/*
 * rpc_client.php ADDR CALLS - a PHP RPC client written against the goridge
 * API (Spiral\Goridge\RPC\RPC::create($addr), the default JSON codec),
 * loaded from the conf/php fallback library.
 *
 * CALLS is a JSON array of [method, argument] pairs; all are made, in
 * order, with ONE RPC object (one socket), so the client's static sequence
 * number runs 1, 2, 3...  For each call one JSON line is printed on stdout:
 *
 *   {"method":M,"seq_before":N,"seq_after":N,"ok":true,"result":R}
 *   {"method":M,"seq_before":N,"seq_after":N,"ok":false,
 *    "class":"Spiral\\Goridge\\RPC\\Exception\\ServiceException","error":TEXT}
 *
 * The result is re-encoded with JSON_PRESERVE_ZERO_FRACTION so that an
 * integer stays an integer and a float stays a float for the test.  seq is
 * read by reflection (null if the library does not have it).  A transport
 * failure ends the script with exit status 3.
 */

declare(strict_types=1);

require __DIR__ . '/../../../conf/php/autoload.php';

use Spiral\Goridge\RPC\Exception\ServiceException;
use Spiral\Goridge\RPC\RPC;

function seq_now(): ?int
{
    try {
        $p = new \ReflectionProperty(RPC::class, 'seq');
        $p->setAccessible(true);
        return (int) $p->getValue();
    } catch (\Throwable) {
        return null;
    }
}

$addr = $argv[1];
$calls = \json_decode($argv[2], true, 512, \JSON_THROW_ON_ERROR);

$rpc = RPC::create($addr);
foreach ($calls as [$method, $arg]) {
    $out = ['method' => $method, 'seq_before' => seq_now()];
    try {
        $result = $rpc->call($method, $arg);
        $out += ['ok' => true, 'result' => $result];
    } catch (ServiceException $e) {
        $out += ['ok' => false, 'class' => \get_class($e), 'error' => $e->getMessage()];
    } catch (\Throwable $e) {
        $out += ['ok' => false, 'class' => \get_class($e), 'error' => $e->getMessage()];
        $out['seq_after'] = seq_now();
        echo \json_encode($out, \JSON_PRESERVE_ZERO_FRACTION | \JSON_UNESCAPED_SLASHES), "\n";
        exit(3);
    }
    $out['seq_after'] = seq_now();
    echo \json_encode($out, \JSON_PRESERVE_ZERO_FRACTION | \JSON_UNESCAPED_SLASHES), "\n";
}
