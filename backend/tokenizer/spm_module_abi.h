// The C interface of libbehemoth_spm.so, the one place SentencePiece is called. The module is
// loaded with dlmopen into its own link namespace, because SentencePiece and LibTorch each bring a
// protobuf and the two clash in one namespace. So nothing C++ crosses: plain integers, byte
// buffers, and callbacks that copy results out as they are produced.
#pragma once

#include <stddef.h>
#include <stdint.h>

extern "C" {

// Receives bytes (text, a serialized model, an error message) or ids; `context` is the caller's.
typedef void (*BehemothSpmBytesSink)(void* context, const char* data, size_t size);
typedef void (*BehemothSpmIdsSink)(void* context, const int32_t* ids, size_t count);

enum { kBehemothSpmAbiVersion = 1 };
enum BehemothSpmSpecial { kBehemothSpmBos = 0, kBehemothSpmEos = 1, kBehemothSpmPad = 2, kBehemothSpmUnk = 3 };

struct BehemothSpmApi {
  int abi_version;
  // A processor for a serialized ModelProto, or null after calling `error`.
  void* (*open)(const char* model, size_t size, BehemothSpmBytesSink error, void* error_context);
  void (*close)(void* processor);
  int32_t (*piece_count)(void* processor);
  void (*piece)(void* processor, int32_t id, BehemothSpmBytesSink sink, void* context);
  int32_t (*special_id)(void* processor, int which);  // -1: the model has none
  // 0 on success; otherwise `error` was called.
  int (*encode)(void* processor, const char* text, size_t size, BehemothSpmIdsSink sink, void* context,
                BehemothSpmBytesSink error, void* error_context);
  int (*decode)(void* processor, const int32_t* ids, size_t count, BehemothSpmBytesSink sink, void* context,
                BehemothSpmBytesSink error, void* error_context);
  // Trains on `text` (one sentence per line) with SentencePiece's command-line `options`; the
  // serialized model goes to `model`.
  int (*train)(const char* options, const char* text, size_t size, BehemothSpmBytesSink model, void* context,
               BehemothSpmBytesSink error, void* error_context);
};

// The module's one exported symbol.
const BehemothSpmApi* behemoth_spm_api(void);
typedef const BehemothSpmApi* (*BehemothSpmApiEntry)(void);
}
