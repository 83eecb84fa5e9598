/* bert.h - the BERT encoder (Devlin et al. 2019) with Hugging Face's BertModel semantics: a
 * config.json + model.safetensors checkpoint directory read and written with Hugging Face's
 * tensor names, forward over a padded batch (last hidden states, pooled [CLS] output, mean-pooled
 * sentence embedding, logits of an optional classification head), backward of all of it, and
 * AdamW steps over the flat parameter buffer.
 *
 * Conventions are nn.h's (float32, row-major, batch first). Dimension letters: B sequences of
 * T tokens, N = B * T rows, D hidden size, H heads of HD = D / H, F intermediate size, V
 * vocabulary, P max positions, TV token types, K classes of the head.
 *
 * Not here: tokenization (wordpiece.h: assay_wordpiece_encode makes ids, type ids and masks),
 * the masked-LM and next-sentence heads (cls.predictions.*, ignored when a checkpoint has them),
 * relative position embeddings, gelu variants other than exact erf GELU, F16/BF16 checkpoints
 * (the model file reader refuses them), past key values / decoder use. */
#ifndef ASSAY_BERT_H
#define ASSAY_BERT_H

#include "core.h"
#include "nn.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct assay_bert_config {
    int vocab_size;              /* V */
    int hidden_size;             /* D */
    int num_hidden_layers;       /* L */
    int num_attention_heads;     /* H; D % H == 0 */
    int intermediate_size;       /* F */
    int max_position_embeddings; /* P: longest sequence */
    int type_vocab_size;         /* TV */
    int num_labels;              /* K of the classification head; 0: no head */
    float layer_norm_eps;        /* 1e-12 */
    float hidden_dropout_prob;   /* embeddings, attention output, FFN output, head input */
    float attention_probs_dropout_prob;
    float classifier_dropout;    /* head input; config.json's classifier_dropout, or (null or
                                    absent) hidden_dropout_prob */
} assay_bert_config;

/* bert-base-uncased's values (V 30522, D 768, 12 layers, 12 heads, I 3072, P 512, TV 2), no head. */
void assay_bert_config_defaults(assay_bert_config *c);
/* NULL if c is usable, else a message ("hidden_size 30 is not a multiple of ..."). */
const char *assay_bert_config_check(const assay_bert_config *c);
/* Parse config.json text (n bytes; name is used in messages). model_type must be "bert" and
 * hidden_act "gelu"; num_labels comes from "num_labels" or the size of "id2label" (0 without
 * either). Missing keys take the defaults above; wrong types and bad values are refused naming
 * the key. */
int assay_bert_config_parse(const char *text, size_t n, const char *name, assay_bert_config *c,
                            assay_error *err);
int assay_bert_config_load(const char *path, assay_bert_config *c, assay_error *err);

typedef struct assay_bert assay_bert;

/* A new model with Hugging Face's initialization: weights and embeddings N(0, 0.02), biases 0,
 * LayerNorm 1 and 0; drawn from seed. */
int assay_bert_new(const assay_bert_config *c, uint64_t seed, assay_bert **out, assay_error *err);
/* Load DIR/config.json and DIR/model.safetensors. Tensor names are Hugging Face's with or
 * without the "bert." prefix (LayerNorm.gamma/beta also accepted); other tensors are ignored.
 * num_labels > 0 asks for a K-class head: "classifier.{weight,bias}" are loaded when present
 * (their shape must match) and initialized from seed otherwise; num_labels == 0 takes the head
 * of the checkpoint if it has one (its size is config.json's when given); -1: never a head. */
int assay_bert_load(const char *dir, int num_labels, uint64_t seed, assay_bert **out,
                    assay_error *err);
/* Read a checkpoint's model.safetensors at path: assay's, or a Hugging Face file (no
 * "assay.format" metadata, which the model file reader otherwise requires). */
int assay_bert_checkpoint_read(const char *path, assay_mfile **out, assay_error *err);
/* Write DIR/config.json and DIR/model.safetensors (created if missing; files written atomically)
 * with the names of Hugging Face's BertForSequenceClassification ("bert." prefix, classifier). */
int assay_bert_save(const assay_bert *m, const char *dir, assay_error *err);
void assay_bert_free(assay_bert *m);
/* Write c as config.json at path (atomically). extra_json (NULL: none) is a JSON object whose
 * keys are added or replace the written ones (a masked-LM checkpoint's architectures). */
/* The same config.json text (assay_free), or NULL when out of memory or extra_json is bad. */
char *assay_bert_config_to_json(const assay_bert_config *c, const char *extra_json);
int assay_bert_config_save(const assay_bert_config *c, const char *extra_json, const char *path,
                           assay_error *err);
/* Add every parameter tensor of m to w under its Hugging Face name. */
int assay_bert_add_tensors(const assay_bert *m, assay_mfile_writer *w, assay_error *err);

const assay_bert_config *assay_bert_get_config(const assay_bert *m);

/* ---- parameters: one flat buffer, with a named view per Hugging Face tensor ----------------- */

typedef struct assay_bert_tensor {
    char name[96];     /* "bert.encoder.layer.0.attention.self.query.weight" */
    int ndim;          /* 1 or 2 */
    int64_t shape[2];  /* Linear weights (out, in), as PyTorch */
    int64_t offset;    /* into the parameter (and gradient) buffer */
    int64_t numel;
    int decay;         /* 1: AdamW decays it (matrices); 0: biases and LayerNorm weights */
} assay_bert_tensor;

int assay_bert_tensor_count(const assay_bert *m);
/* The i-th named view (0 <= i < count), or NULL. */
const assay_bert_tensor *assay_bert_tensor_at(const assay_bert *m, int i);
/* The view of a name (with or without "bert."), or NULL. */
const assay_bert_tensor *assay_bert_tensor_find(const assay_bert *m, const char *name);
/* The parameter buffer (n floats). Query, key and value of a layer are adjacent, so they form
 * one (3D, D) matrix and one (3D) bias. */
float *assay_bert_params(assay_bert *m, int64_t *n);
/* The gradient buffer (same layout), or NULL before the first assay_bert_zero_grad. */
float *assay_bert_grads(assay_bert *m, int64_t *n);
/* Zero the gradients (allocating them the first time). */
int assay_bert_zero_grad(assay_bert *m, assay_error *err);
/* One optimizer step (o: assay_nn_optim, AdamW for BERT) with learning rate lr on the
 * accumulated gradients, each tensor decayed per its decay flag (Hugging Face's grouping: no
 * decay for biases and LayerNorm weights). The optimizer state is allocated at the first step;
 * the step count t is kept by the model. */
int assay_bert_step(assay_bert *m, const assay_nn_optim *o, float lr, assay_error *err);

/* ---- activations --------------------------------------------------------------------------- */

/* The activations of a batch of B sequences of T tokens, sized once. grad = 1 keeps what the
 * backward pass needs (every layer's activations, attention probabilities (B,H,T,T) per layer,
 * dropout masks, gradient buffers); grad = 0 is inference only and reuses one layer's buffers
 * for all layers. T must not exceed max_position_embeddings. */
typedef struct assay_bert_work assay_bert_work;
int assay_bert_work_new(const assay_bert *m, int B, int T, int grad, assay_bert_work **out,
                        assay_error *err);
void assay_bert_work_free(assay_bert_work *w);
/* The precision of the work's dense-layer products (ASSAY_NN_FP32 when made). bf16 is refused
 * on a CPU without native bf16 (assay_nn_bf16_supported), naming what it has. */
int assay_bert_work_set_precision(assay_bert_work *w, assay_nn_precision p, assay_error *err);
assay_nn_precision assay_bert_work_precision(const assay_bert_work *w);

typedef struct assay_bert_out {
    const float *hidden; /* (B,T,D) last hidden states */
    const float *pooled; /* (B,D) tanh(dense(hidden[:, 0])) */
    const float *mean;   /* (B,D) mean of hidden over unmasked tokens (0 for an empty row) */
    const float *logits; /* (B,K) classifier(dropout(pooled)), NULL without a head */
} assay_bert_out;

/* Forward over ids (B,T) in [0, V), type_ids (B,T) in [0, TV) (NULL: all 0), mask (B,T) of 1
 * for tokens and 0 for padding (NULL: all 1). training = 1 applies dropout with masks drawn
 * from rng (which may then not be NULL; a work with grad = 0 is refused) and needs a work made
 * with grad = 1 for backward to follow. Bad ids, type ids or mask values are refused naming
 * the row and column. out may be NULL (read it later with assay_bert_work_out). */
int assay_bert_forward(const assay_bert *m, assay_bert_work *w, const int32_t *ids,
                       const int32_t *type_ids, const int32_t *mask, int training,
                       assay_rng *rng, assay_bert_out *out, assay_error *err);
void assay_bert_work_out(const assay_bert_work *w, assay_bert_out *out);

/* Backward of the last forward of w (made with grad = 1), ADDING into the model's gradients
 * (zero them first: assay_bert_zero_grad). Upstream gradients may each be NULL: dhidden
 * (B,T,D), dpooled (B,D), dmean (B,D), dlogits (B,K; only with a head). */
int assay_bert_backward(assay_bert *m, assay_bert_work *w, const float *dhidden,
                        const float *dpooled, const float *dmean, const float *dlogits,
                        assay_error *err);
/* The gradient of the last backward with respect to the summed input embeddings (B,T,D): word +
 * token type + position, before the embedding LayerNorm (PyTorch's inputs_embeds.grad). */
const float *assay_bert_work_dembed(const assay_bert_work *w);

/* Mean softmax cross-entropy of the head's logits of the last forward against labels (B) in
 * [0, K), and its backward through the whole model into the gradients. */
int assay_bert_cls_backward(assay_bert *m, assay_bert_work *w, const int32_t *labels,
                            double *loss, assay_error *err);

#ifdef __cplusplus
}
#endif
#endif
