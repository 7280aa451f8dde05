<?php

/*
 * rrtcp fallback for Spiral\Goridge\Relay (spiral/goridge): builds a relay
 * from an address string, as RR_RELAY / RR_RPC hold it (rrtcp-protocol(7) 3.1):
 *   "pipes"                      -> StreamRelay(STDIN, STDOUT)
 *   "tcp://host:port"            -> SocketRelay (TCP)
 *   "unix:///path/to.sock"       -> SocketRelay (unix socket)
 *   "pipes://stdin:stdout"       -> StreamRelay on php://<in>, php://<out>
 */

declare(strict_types=1);

namespace Spiral\Goridge;

use Spiral\Goridge\Exception\RelayFactoryException;

abstract class Relay implements RelayInterface
{
    public const TCP_SOCKET = 'tcp';
    public const UNIX_SOCKET = 'unix';
    public const PIPES = 'pipes';

    protected const CONNECTION_EXP = '/(?P<protocol>[^:\/]+):\/\/(?P<arg1>[^:]+)(:(?P<arg2>[^:]+))?/';

    public static function create(string $connection): RelayInterface
    {
        if ($connection === self::PIPES) {
            return new StreamRelay(STDIN, STDOUT);
        }

        if (!preg_match(self::CONNECTION_EXP, $connection, $match)) {
            throw new RelayFactoryException('unsupported connection format');
        }

        $protocol = strtolower($match['protocol']);
        $port = isset($match['arg2']) ? (int) $match['arg2'] : null;

        return match ($protocol) {
            self::TCP_SOCKET => new SocketRelay($match['arg1'], $port, SocketRelay::SOCK_TCP),
            self::UNIX_SOCKET => new SocketRelay($match['arg1'], null, SocketRelay::SOCK_UNIX),
            self::PIPES => isset($match['arg2'])
                ? new StreamRelay(self::open($match['arg1'], 'rb'), self::open($match['arg2'], 'wb'))
                : throw new RelayFactoryException('Unsupported stream connection format'),
            default => throw new RelayFactoryException('unknown connection protocol'),
        };
    }

    /**
     * @return resource
     */
    private static function open(string $name, string $mode)
    {
        $stream = @fopen("php://$name", $mode);
        if ($stream === false) {
            throw new RelayFactoryException("Could not initiate stream resource php://$name");
        }

        return $stream;
    }
}
