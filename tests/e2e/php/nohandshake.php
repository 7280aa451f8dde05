<?php

/* nohandshake.php - never answers the pid request (the server must give up). */

\sleep(60);
