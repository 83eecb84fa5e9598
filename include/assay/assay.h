/* assay.h - the whole public interface of libassay. */
#ifndef ASSAY_H
#define ASSAY_H

#include "core.h"
#include "tensor.h"
#include "data.h"
#include "image.h"
#include "prep.h"
#include "text.h"
#include "wordpiece.h"
#include "model.h"
#include "nn.h"
#include "bert.h"
#include "eval.h"
#include "curves.h"
#include "value.h"
#include "svg.h"
#include "store.h"
#include "serve.h"

#endif
