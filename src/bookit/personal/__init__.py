"""Personal data under each person's own key (DESIGN rule 19): the master key, the key store
beside the event store, and the cipher that seals and opens a person's values."""
