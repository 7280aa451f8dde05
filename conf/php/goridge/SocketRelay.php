<?php

/*
 * rrtcp fallback for Spiral\Goridge\SocketRelay (spiral/goridge): goridge
 * frames over a TCP or unix stream socket, used for RPC (rrtcp-protocol(7) 5).
 * It connects lazily on first use. The real class uses ext-sockets; this
 * one uses PHP streams, which puts the same bytes on the wire.
 */

declare(strict_types=1);

namespace Spiral\Goridge;

use Spiral\Goridge\Exception\HeaderException;
use Spiral\Goridge\Exception\InvalidArgumentException;
use Spiral\Goridge\Exception\RelayException;
use Spiral\Goridge\Exception\TransportException;

class SocketRelay extends Relay implements \Stringable
{
    public const SOCK_TCP = 0;
    public const SOCK_UNIX = 1;

    public const RECONNECT_RETRIES = 10;
    public const RECONNECT_TIMEOUT = 100; // microseconds between attempts

    /** @var resource|null */
    private $socket = null;

    public function __construct(
        private string $address,
        private ?int $port = null,
        private int $type = self::SOCK_TCP,
    ) {
        if ($type === self::SOCK_TCP) {
            $this->address = strtolower($address);
            if ($port === null || $port < 0 || $port > 65535) {
                throw new InvalidArgumentException(sprintf("Invalid port given for TPC socket on '%s'", $address));
            }
        } elseif ($type === self::SOCK_UNIX) {
            $this->port = null;
        } else {
            throw new InvalidArgumentException(sprintf("Undefined connection type %s on '%s'", $type, $address));
        }
    }

    public function __destruct()
    {
        if ($this->isConnected()) {
            $this->close();
        }
    }

    public function __toString(): string
    {
        return $this->type === self::SOCK_TCP
            ? "tcp://{$this->address}:{$this->port}"
            : "unix://{$this->address}";
    }

    public function getAddress(): string
    {
        return $this->address;
    }

    public function getPort(): ?int
    {
        return $this->port;
    }

    public function getType(): int
    {
        return $this->type;
    }

    public function isConnected(): bool
    {
        return $this->socket !== null;
    }

    public function connect(int $retries = self::RECONNECT_RETRIES, int $timeout = self::RECONNECT_TIMEOUT): bool
    {
        if ($this->isConnected()) {
            return true;
        }

        for ($attempt = 0; $attempt <= $retries; $attempt++) {
            $socket = @stream_socket_client((string) $this, $errno, $error);
            if ($socket !== false) {
                $this->socket = $socket;
                return true;
            }
            usleep($timeout);
        }

        throw new RelayException("Unable to establish connection {$this}: {$error}");
    }

    public function close(): void
    {
        if (!$this->isConnected()) {
            throw new RelayException("Unable to close socket '{$this}', socket already closed");
        }

        fclose($this->socket);
        $this->socket = null;
    }

    public function waitFrame(): Frame
    {
        $this->connect();

        $header = $this->readExactly(12);
        if ($header === null) {
            throw new HeaderException('Unable to read frame header: connection closed');
        }

        $parts = Frame::readHeader($header);
        $body = $this->readExactly($parts[1] * 4 + $parts[2]);
        if ($body === null) {
            throw new HeaderException('Unable to read payload from socket: connection closed');
        }

        return Frame::initFrame($parts, $body);
    }

    public function send(Frame $frame): void
    {
        $this->connect();

        $bytes = Frame::packFrame($frame);
        if (@fwrite($this->socket, $bytes) !== strlen($bytes)) {
            throw new TransportException('Unable to write payload to the stream');
        }
    }

    public function hasFrame(): bool
    {
        $this->connect();

        $read = [$this->socket];
        $write = $except = null;

        return @stream_select($read, $write, $except, 0) > 0;
    }

    /** Reads exactly $length bytes; null on EOF or a read timeout. */
    private function readExactly(int $length): ?string
    {
        $data = '';
        while (strlen($data) < $length) {
            // A blocking socket read returns '' only on EOF or timeout.
            $chunk = @fread($this->socket, $length - strlen($data));
            if ($chunk === false || $chunk === '') {
                return null;
            }
            $data .= $chunk;
        }

        return $data;
    }
}
