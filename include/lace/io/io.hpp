#pragma once
// Everything the output module offers, for the CLI. Pulls in torch via tensor_image.hpp;
// include the single headers instead where torch is not wanted.

#include "lace/io/crc32.hpp"
#include "lace/io/error.hpp"
#include "lace/io/files.hpp"
#include "lace/io/image.hpp"
#include "lace/io/naming.hpp"
#include "lace/io/png.hpp"
#include "lace/io/record.hpp"
#include "lace/io/sha256.hpp"
#include "lace/io/tensor_image.hpp"
