# Unit tests of BERT masked-LM pretraining (nn: bert_mlm): assay_unit_test(NAME LIBRARY SOURCES...)
assay_unit_test(test_bert_mlm assay_models tests/unit/test_bert_mlm.c)
