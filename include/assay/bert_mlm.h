/* bert_mlm.h - masked-language-model pretraining of the BERT encoder (bert.h): BERT's masking
 * of token ids (Devlin et al. 2019, 3.1: 80% [MASK], 10% a random token, 10% unchanged), the
 * masked-LM head of Hugging Face's BertForMaskedLM (cls.predictions: transform dense -> erf GELU
 * -> LayerNorm, then a decoder tied to the word embeddings plus its own bias) with forward and
 * backward passes (the decoder's gradient goes into the word embeddings' gradient), AdamW steps
 * with global gradient-norm clipping over encoder and head, and checkpoints: a Hugging Face
 * BertForMaskedLM directory (config.json, model.safetensors) plus a training-state file
 * (optimizer moments, step count, RNG state) from which training resumes bit for bit.
 *
 * Dimension letters as bert.h: B sequences of T tokens, N = B * T rows, D hidden, V vocabulary,
 * M selected (masked) positions.
 *
 * Not here: the next-sentence head (BertForPreTraining's seq_relationship), whole-word masking,
 * corpus reading, tokenization and packing (the assay pretrain command does those). */
#ifndef ASSAY_BERT_MLM_H
#define ASSAY_BERT_MLM_H

#include "bert.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- masking ------------------------------------------------------------------------------ */

/* BERT's masking of n ids into inputs (n) and labels (n): each position whose id is not
 * special (special (V): 1 for ids never selected, e.g. [CLS] [SEP] [PAD] [UNK] [MASK]) is
 * selected with probability prob; a selected position gets label = its id and its input
 * becomes mask_id with probability 0.8, a uniformly drawn non-special id with probability 0.1,
 * and stays unchanged otherwise (Hugging Face's DataCollatorForLanguageModeling). Positions not
 * selected get label -100 and their id unchanged. Draws from rng in index order (selection,
 * then the replacement's draws for that position). Returns the number selected. */
int64_t assay_bert_mlm_mask(int32_t *inputs, int32_t *labels, const int32_t *ids, int64_t n,
                            const uint8_t *special, int32_t V, int32_t mask_id, float prob,
                            assay_rng *rng);

/* ---- the head and the optimizer state ------------------------------------------------------ */

typedef struct assay_bert_mlm assay_bert_mlm;

/* A head for bert's sizes, initialized as Hugging Face's (dense N(0, 0.02) and bias 0,
 * LayerNorm 1 and 0, decoder bias 0) from seed. bert is only read (sizes, not kept). */
int assay_bert_mlm_new(const assay_bert *bert, uint64_t seed, assay_bert_mlm **out,
                       assay_error *err);
void assay_bert_mlm_free(assay_bert_mlm *h);

/* The head's named views (Hugging Face's names): cls.predictions.transform.dense.{weight,bias},
 * cls.predictions.transform.LayerNorm.{weight,bias}, cls.predictions.bias. */
int assay_bert_mlm_tensor_count(const assay_bert_mlm *h);
const assay_bert_tensor *assay_bert_mlm_tensor_at(const assay_bert_mlm *h, int i);
float *assay_bert_mlm_params(assay_bert_mlm *h, int64_t *n);
float *assay_bert_mlm_grads(assay_bert_mlm *h, int64_t *n);
/* Optimizer steps taken (the count Adam's bias correction uses). */
long assay_bert_mlm_steps(const assay_bert_mlm *h);
/* Forget the optimizer: step count 0, AdamW moments dropped (allocated afresh by the next step),
 * so that a loaded checkpoint starts a new run (continued pretraining) instead of resuming. */
void assay_bert_mlm_restart(assay_bert_mlm *h);

/* Zero the gradients of the encoder and the head (allocating them the first time). */
int assay_bert_mlm_zero_grad(assay_bert *bert, assay_bert_mlm *h, assay_error *err);

/* The masked-LM loss of the last forward of w (a work of B x T = n rows): the hidden rows whose
 * label (n) is >= 0 go through the head, the mean cross-entropy over them against their labels
 * (in [0, V)) is *loss and their number *count (0 selected: loss 0, no gradient). backward = 1
 * also ADDS the gradient of scale * loss into the head's and the encoder's gradients (the
 * decoder's into the word embeddings', as the tied weight of BertForMaskedLM), running
 * assay_bert_backward (w must have been made with grad = 1). */
int assay_bert_mlm_loss(assay_bert *bert, assay_bert_mlm *h, assay_bert_work *w,
                        const int32_t *labels, int64_t n, int backward, float scale,
                        double *loss, int64_t *count, assay_error *err);
/* The (count, V) logits of the selected rows of the last assay_bert_mlm_loss. */
const float *assay_bert_mlm_logits(const assay_bert_mlm *h);

/* One optimizer step (o: AdamW) with learning rate lr over encoder and head: the gradients
 * are first scaled so that their global L2 norm is at most max_norm (PyTorch's
 * clip_grad_norm_; max_norm <= 0: no clipping; the norm before clipping into *norm when not
 * NULL). Weight decay as Hugging Face groups it (none for biases and LayerNorm weights); the
 * pooler, which BertForMaskedLM does not have, is left as it is. The moments are allocated at
 * the first step and kept by h (not by bert: assay_bert_step's state is not used). */
int assay_bert_mlm_step(assay_bert *bert, assay_bert_mlm *h, const assay_nn_optim *o, float lr,
                        double max_norm, double *norm, assay_error *err);

/* ---- checkpoints --------------------------------------------------------------------------- */

/* DIR/config.json (architectures BertForMaskedLM) and DIR/model.safetensors with the encoder's
 * tensors ("bert." names, pooler included) and the head's, each written atomically (temporary
 * file, fsync, rename). The metadata records the step count ("assay.mlm_steps"). */
int assay_bert_mlm_save(const assay_bert *bert, const assay_bert_mlm *h, const char *dir,
                        assay_error *err);
/* Load a directory saved by assay_bert_mlm_save, or a Hugging Face BERT checkpoint (a head
 * absent from it is initialized from seed). *steps: the recorded step count (-1 if none). */
int assay_bert_mlm_load(const char *dir, uint64_t seed, assay_bert **bert, assay_bert_mlm **h,
                        long *steps, assay_error *err);

/* The training state at path (a safetensors file written atomically): the AdamW moments of
 * encoder and head, the step count, rng's state, and train_json (the caller's own record:
 * hyperparameters, data position; may be NULL). */
int assay_bert_mlm_state_save(const assay_bert_mlm *h, const assay_rng *rng,
                              const char *train_json, const char *path, assay_error *err);
/* Read it back into h (made for the same model: sizes are checked) and rng; *train_json
 * (assay_malloc'ed, "" if none) when train_json is not NULL. */
int assay_bert_mlm_state_load(assay_bert_mlm *h, assay_rng *rng, char **train_json,
                              const char *path, assay_error *err);

#ifdef __cplusplus
}
#endif
#endif
