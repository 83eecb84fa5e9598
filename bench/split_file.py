#!/usr/bin/python3
"""split_file.py DATA TARGET TRAIN_OUT TEST_OUT - a stratified 80/20 split (seed 42) written as
two CSV files, so that assay and scikit-learn train and test on exactly the same rows."""
import sys

import pandas as pd
from sklearn.model_selection import train_test_split

data, target, train_out, test_out = sys.argv[1:5]
df = pd.read_csv(data)
train, test = train_test_split(df, test_size=0.2, stratify=df[target], random_state=42)
train.to_csv(train_out, index=False)
test.to_csv(test_out, index=False)
