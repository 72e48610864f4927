-- Identity (issue #11): each user is bound to an OS login and may have an argon2id password hash.
-- Existing users are bound to the login of the same name.
ALTER TABLE user ADD COLUMN login TEXT;
ALTER TABLE user ADD COLUMN password_hash TEXT;
UPDATE user SET login = name;
CREATE UNIQUE INDEX user_login_nocase ON user(lower(login));
