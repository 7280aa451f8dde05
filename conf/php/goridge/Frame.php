<?php

/*
 * rrtcp fallback for Spiral\Goridge\Frame (spiral/goridge), following
 * rrtcp-protocol(7) section 1: a goridge v1 frame.
 *
 *   0      1      2..5       6..9        10      11      12..        4*HL..
 *   VER|HL flags  len u32LE  CRC32 u32LE byte10  byte11  options LE  payload
 *
 * HL = 3 + number of options; the CRC covers bytes 0..5 only. Like the
 * real library, reading checks neither the CRC nor the version nibble.
 */

declare(strict_types=1);

namespace Spiral\Goridge;

use Spiral\Goridge\Exception\InvalidArgumentException;

final class Frame
{
    public const VERSION = 0x01;

    public const CONTROL = 0x01;
    public const ERROR = 0x40;

    public const CODEC_RAW = 0x04;
    public const CODEC_JSON = 0x08;
    public const CODEC_MSGPACK = 0x10;
    public const CODEC_GOB = 0x20;
    public const CODEC_PROTO = 0x80;

    public const BYTE10_STREAM = 0x01;
    public const BYTE10_STOP = 0x02;
    public const BYTE10_PING = 0x04;
    public const BYTE10_PONG = 0x08;

    public int $byte10 = 0;
    public int $byte11 = 0;

    /**
     * @param array<int> $options
     */
    public function __construct(
        public ?string $payload,
        public array $options = [],
        public int $flags = 0,
    ) {
    }

    /**
     * Encodes a frame: header, options and payload as one string, so that a
     * single fwrite() puts the whole header on the pipe (rrtcp-protocol(7) 1.6).
     */
    public static function packFrame(Frame $frame): string
    {
        $payload = (string) $frame->payload;
        $head = pack('CCV', self::VERSION << 4 | (count($frame->options) + 3), $frame->flags, strlen($payload));

        return $head . pack('VCC', crc32($head), $frame->byte10, $frame->byte11)
            . ($frame->options === [] ? '' : pack('V*', ...$frame->options))
            . $payload;
    }

    /**
     * Decodes the 12 fixed header bytes.
     *
     * @return array{0: int, 1: int, 2: int, 3: int, 4: int}
     *         [flags, number of options, payload length, byte10, byte11]
     */
    public static function readHeader(string $header): array
    {
        return [
            ord($header[1]),
            (ord($header[0]) & 0x0F) - 3,
            unpack('V', $header, 2)[1],
            ord($header[10]),
            ord($header[11]),
        ];
    }

    /**
     * Builds a frame from a decoded header and the bytes that follow it
     * (options, then payload).
     */
    public static function initFrame(array $header, string $body): Frame
    {
        $optionBytes = $header[1] * 4;
        $options = $optionBytes > 0 ? array_values(unpack('V*', substr($body, 0, $optionBytes))) : [];

        $frame = new self(substr($body, $optionBytes), $options, $header[0]);
        $frame->byte10 = $header[3] ?? 0;
        $frame->byte11 = $header[4] ?? 0;

        return $frame;
    }

    public function setFlag(int ...$flag): void
    {
        foreach ($flag as $f) {
            if ($f > 255) {
                throw new InvalidArgumentException('Flags can be byte only');
            }
            $this->flags |= $f;
        }
    }

    public function hasFlag(int $flag): bool
    {
        if ($flag > 255) {
            throw new InvalidArgumentException('Flags can be byte only');
        }

        return ($this->flags & $flag) !== 0;
    }

    public function setOptions(int ...$options): void
    {
        $this->options = $options;
    }
}
