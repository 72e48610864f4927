-- User names are case-insensitive: the database refuses "Bob" beside "bob" whoever inserts it.
CREATE UNIQUE INDEX user_name_nocase ON user(lower(name));
