<?php

/*
 * flag_start.php - exits 1 at once unless the file named by $FLAG_FILE
 * exists; otherwise it is worker.php.  For the spawn backoff tests.
 */

declare(strict_types=1);

if (!\file_exists((string) \getenv('FLAG_FILE'))) {
    exit(1);
}
require __DIR__ . '/worker.php';
