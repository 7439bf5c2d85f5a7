"""The report stage: the results frame (columns, frame), stored results, and every report of them."""
