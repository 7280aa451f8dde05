<?php

/*
 * rrtcp fallback for Spiral\Goridge\StreamRelay (spiral/goridge): goridge
 * frames over a pair of streams, the worker's STDIN/STDOUT pipes.
 *
 * Reading follows rrtcp-protocol(7) 1.5 and keeps the library's quirk: the header
 * is ONE fread() of 12 bytes, and a short read (a header split across two
 * writes by the server, or EOF) throws HeaderException, which kills the
 * worker. Options and payload are then read in a loop. No CRC check.
 * Writing packs the whole frame and sends it with one fwrite().
 *
 * One deliberate difference: on EOF in the middle of a frame the real
 * library loops forever at 100% CPU (rrtcp-protocol(7) Q2); this one throws.
 */

declare(strict_types=1);

namespace Spiral\Goridge;

use Spiral\Goridge\Exception\HeaderException;
use Spiral\Goridge\Exception\InvalidArgumentException;
use Spiral\Goridge\Exception\TransportException;

class StreamRelay extends Relay
{
    /** @var resource */
    private $in;

    /** @var resource */
    private $out;

    /**
     * @param resource $in  readable stream
     * @param resource $out writable stream
     */
    public function __construct($in, $out)
    {
        if (!is_resource($in) || get_resource_type($in) !== 'stream') {
            throw new InvalidArgumentException('Expected a valid input resource stream');
        }
        if (!is_resource($out) || get_resource_type($out) !== 'stream') {
            throw new InvalidArgumentException('Expected a valid output resource stream');
        }

        $this->in = $in;
        $this->out = $out;
    }

    public function waitFrame(): Frame
    {
        error_clear_last();
        $header = @fread($this->in, 12);

        if ($header === false) {
            throw new HeaderException('Unable to read frame header: ' . self::lastError());
        }
        if (strlen($header) !== 12) {
            throw new HeaderException('Unable to read frame header: Incorrect header size');
        }

        $parts = Frame::readHeader($header);
        $length = $parts[1] * 4 + $parts[2];
        $body = '';

        while ($length > 0) {
            error_clear_last();
            $chunk = @fread($this->in, $length);

            if ($chunk === false) {
                throw new TransportException(
                    'An error occurred while reading payload from the stream: ' . self::lastError(),
                );
            }
            if ($chunk === '' && feof($this->in)) {
                throw new TransportException('Unexpected end of stream inside a frame');
            }

            $body .= $chunk;
            $length -= strlen($chunk);
        }

        return Frame::initFrame($parts, $body);
    }

    public function send(Frame $frame): void
    {
        $bytes = Frame::packFrame($frame);

        error_clear_last();
        if (@fwrite($this->out, $bytes, strlen($bytes)) === false) {
            throw new TransportException(
                'An error occurred while write payload to the stream: ' . self::lastError(),
            );
        }
    }

    public function hasFrame(): bool
    {
        $read = [$this->in];
        $write = $except = null;

        return @stream_select($read, $write, $except, 0) > 0;
    }

    private static function lastError(): string
    {
        return error_get_last()['message'] ?? 'Unknown Error';
    }
}
