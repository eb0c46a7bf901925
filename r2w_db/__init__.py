"""r2w_db: the Resume2Website database: schema, migrations, data operations, figures and maintenance.

Imports no Streamlit. Every function takes the database (a Database or a path) first.
The package face: the names below; the layers, lowest first (a module imports only its own
layer and those below it): errors, formatting < config < engine < app < monitor, demo < figures
< maintenance < bench < cli. Each sub-package's docstring says what it holds.
"""
from r2w_db.app.cache import (
                           cache_extraction_result,
                           cleanup_old_cache_entries,
                           count_old_cache_entries,
                           get_cached_extraction,
)
from r2w_db.app.passwords import hash_password, verify_password
from r2w_db.app.portfolio import clear_user_portfolio, get_user_portfolio, update_user_portfolio
from r2w_db.app.sessions import (
                           cleanup_old_sessions,
                           count_old_sessions,
                           create_session,
                           delete_session,
                           get_user_id_from_session,
)
from r2w_db.app.uploads import (
                           create_cv_upload,
                           get_multiple_users_cvs,
                           get_user_cv_uploads,
                           get_user_with_cvs,
                           transfer_cv_ownership,
                           update_cv_upload_status,
)
from r2w_db.app.users import create_user, get_user_by_email, get_user_by_id, update_user_profile
from r2w_db.backends import Database, open_database
from r2w_db.backends import open_database as as_database  # the name it had before the seam
from r2w_db.backends.migrations import init, migrate
from r2w_db.errors import (
                           DatabaseLocked,
                           DatabaseMissing,
                           DatabaseReadOnly,
                           DiskFull,
                           DuplicateEmail,
                           EmptyDatabase,
                           InvalidValue,
                           NotADatabase,
                           R2WError,
                           SchemaTooNew,
                           SchemaTooOld,
                           Unreadable,
)
from r2w_db.figures.check import run_check
from r2w_db.figures.stats import calculate_cache_hit_rate, collect_stats, get_extraction_stats

